"""Sign-in by the printed link, the cookie, and the refusals that keep other sites out."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator

import httpx
import pytest

from mitmtape.api.security import cookie_name
from mitmtape.api.server import ApiServer
from mitmtape.web.routes import STATIC
from tests.web.conftest import TOKEN


@pytest.fixture
def signed_in(server: ApiServer) -> Iterator[httpx.Client]:
    """A client holding the cookie that the sign-in link set."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get(f"/?token={TOKEN}").status_code == 303
        yield client


def test_the_sign_in_link_sets_a_strict_httponly_cookie_and_drops_the_token(server) -> None:
    assert server.sign_in_url == f"http://127.0.0.1:{server.port}/?token={TOKEN}"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.get(f"/?token={TOKEN}")
        cookie = answer.headers["set-cookie"]
        page = client.get("/")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert cookie.startswith(f"{cookie_name(server.port)}=")
    assert TOKEN not in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/main.js' in page.text


def test_without_the_token_there_is_no_page(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        assert "set-cookie" not in client.get("/?token=wrong").headers
        assert client.get("/static/main.js").status_code == 401
        assert client.get("/api/v1/sessions").status_code == 401


def test_the_cookie_opens_the_api_and_the_static_files(signed_in) -> None:
    assert signed_in.get("/api/v1/sessions").status_code == 200
    script = signed_in.get("/static/main.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


def test_every_module_is_served_as_javascript_whatever_the_platform_says(
    signed_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' registry often maps .js to text/plain; a browser then refuses a module script.
    monkeypatch.setattr(mimetypes, "guess_type", lambda *_args, **_kwargs: ("text/plain", None))
    modules = sorted(path.name for path in STATIC.glob("*.js"))
    assert "main.js" in modules
    for name in modules:
        answer = signed_in.get(f"/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == "text/javascript; charset=utf-8", name
    # The stand-in table is in force: the style sheet, which needs no script type, follows it.
    assert signed_in.get("/static/app.css").headers["content-type"] == "text/plain"


def test_the_bearer_token_still_opens_the_page_and_the_api(server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{server.url}/", headers=auth).status_code == 200
    assert httpx.get(f"{server.url}/api/v1/sessions", headers=auth).status_code == 200


def test_a_foreign_host_is_refused_even_with_the_token(server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rebound = {**auth, "Host": f"attacker.example:{server.port}"}
    other_port = {**auth, "Host": f"127.0.0.1:{server.port + 1}"}
    for headers in (rebound, other_port):
        for path in ("/", f"/?token={TOKEN}", "/api/v1/sessions", "/static/main.js", "/nowhere"):
            assert httpx.get(server.url + path, headers=headers).status_code == 403, path
        upload = httpx.post(
            f"{server.url}/api/v1/import?name=a.har", headers=headers, content=b"{}"
        )
        assert upload.status_code == 403
    named = {**auth, "Host": f"localhost:{server.port}"}
    assert httpx.get(f"{server.url}/api/v1/sessions", headers=named).status_code == 200


def test_a_cross_site_change_is_refused_and_changes_nothing(server, store, signed_in) -> None:
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
