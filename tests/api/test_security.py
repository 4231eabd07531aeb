"""Who may call the API and from where (api/security.py): the token, the sign-in cookie
derived from it, and the Host and Origin checks against DNS rebinding and cross-site changes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest

from mitmtape.api.security import (
    TOKEN_ENV,
    api_token,
    cookie_name,
    cookie_value,
    own_origins,
    refusal,
)
from mitmtape.api.server import ApiServer
from mitmtape.store import Store
from mitmtape.web.routes import asset_path
from tests.api.conftest import TOKEN

HOSTS = own_origins("127.0.0.1", 8086)


def request(method: str, **headers: str) -> HTTPServerRequest:
    return HTTPServerRequest(method=method, uri="/api/v1/sessions", headers=HTTPHeaders(headers))


def test_a_given_token_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert api_token("given") == "given"
    assert api_token() == "from-env"


def test_without_a_token_a_fresh_random_one_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    first, second = api_token(), api_token()
    assert first != second and len(first) >= 32


def test_the_cookie_is_derived_from_the_token_and_is_not_the_token() -> None:
    assert cookie_value(TOKEN) == cookie_value(TOKEN)
    assert cookie_value(TOKEN) != cookie_value(TOKEN + "x")
    assert TOKEN not in cookie_value(TOKEN)
    assert cookie_name(8086) != cookie_name(8087)


def test_own_origins_are_the_address_and_localhost_on_the_port() -> None:
    assert own_origins("127.0.0.1", 8086) == {"127.0.0.1:8086", "localhost:8086"}
    assert own_origins("::1", 9) == {"[::1]:9", "localhost:9"}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"Host": "127.0.0.1:8086"}, False),
        ("GET", {"Host": "LOCALHOST:8086"}, False),
        ("GET", {"Host": "attacker.example:8086"}, True),
        ("GET", {"Host": "127.0.0.1:8087"}, True),
        ("GET", {}, True),
        ("GET", {"Host": "127.0.0.1:8086", "Origin": "http://x.example"}, False),
        ("POST", {"Host": "127.0.0.1:8086", "Origin": "http://127.0.0.1:8086"}, False),
        ("POST", {"Host": "127.0.0.1:8086"}, False),
        ("POST", {"Host": "127.0.0.1:8086", "Origin": "http://x.example"}, True),
        ("POST", {"Host": "127.0.0.1:8086", "Origin": "https://127.0.0.1:8086"}, True),
        ("DELETE", {"Host": "127.0.0.1:8086", "Origin": "null"}, True),
    ],
)
def test_refusal_holds_requests_to_this_host_and_changes_to_this_site(
    method: str, headers: dict[str, str], refused: bool
) -> None:
    assert (refusal(request(method, **headers), HOSTS) is not None) == refused


@pytest.fixture
def signed_in(server: ApiServer) -> Iterator[httpx.Client]:
    """A client holding the web page's sign-in cookie, as a browser does."""
    cookies = {cookie_name(server.port): cookie_value(TOKEN)}
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=10) as client:
        assert client.get("/api/v1/sessions").status_code == 200
        yield client


def test_a_foreign_host_is_refused_even_with_the_token(server: ApiServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rebound = {**auth, "Host": f"attacker.example:{server.port}"}
    other_port = {**auth, "Host": f"127.0.0.1:{server.port + 1}"}
    for headers in (rebound, other_port):
        paths = ("/", f"/?token={TOKEN}", "/api/v1/sessions", asset_path("main.js"), "/nowhere")
        for path in paths:
            assert httpx.get(server.url + path, headers=headers).status_code == 403, path
        upload = httpx.post(
            f"{server.url}/api/v1/import?name=a.har", headers=headers, content=b"{}"
        )
        assert upload.status_code == 403
    named = {**auth, "Host": f"localhost:{server.port}"}
    assert httpx.get(f"{server.url}/api/v1/sessions", headers=named).status_code == 200


def test_a_cross_site_change_is_refused_and_changes_nothing(
    server: ApiServer, store: Store, signed_in: httpx.Client
) -> None:
    before = len(store.list_sessions())
    client = signed_in
    for origin in ("http://attacker.example", f"http://127.0.0.1:{server.port + 1}", "null"):
        headers = {"Origin": origin}
        created = client.post("/api/v1/sessions", json={"name": "csrf"}, headers=headers)
        upload = client.post("/api/v1/import?name=x.har", content=b"{}", headers=headers)
        assert created.status_code == 403
        assert upload.status_code == 403
    assert len(store.list_sessions()) == before
    same_site = {"Origin": server.url}
    assert client.post("/api/v1/sessions", json={"name": "ok"}, headers=same_site).is_success
    # Reading is not a change: a GET with another Origin is answered (the cookie is Strict).
    assert client.get("/api/v1/sessions", headers={"Origin": "http://x.example"}).is_success
