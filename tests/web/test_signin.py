"""Sign-in by the printed link, the cookie, and the page's files (the Host and Origin checks
that keep other sites out are tests/api/test_security.py)."""

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


def test_the_cookie_opens_the_api_and_the_static_files(signed_in, store) -> None:
    sessions = signed_in.get("/api/v1/sessions")
    assert sessions.status_code == 200
    assert [s["id"] for s in sessions.json()["sessions"]] == [store.active_session().id]
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


def test_the_bearer_token_still_opens_the_page_and_the_api(server, store) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{server.url}/", headers=auth)
    sessions = httpx.get(f"{server.url}/api/v1/sessions", headers=auth)
    assert page.status_code == 200
    assert '<script type="module" src="/static/main.js' in page.text
    assert sessions.status_code == 200
    assert [s["id"] for s in sessions.json()["sessions"]] == [store.active_session().id]
