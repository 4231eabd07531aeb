"""Sign-in by the printed link, the cookie, and the page's files (the Host and Origin checks
that keep other sites out are tests/api/test_security.py)."""

from __future__ import annotations

import mimetypes
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mitmtape.api.security import cookie_name
from mitmtape.api.server import ApiServer
from mitmtape.web import routes
from mitmtape.web.routes import ASSET_CACHE, STATIC, asset_fingerprint, asset_path
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
    assert f'<script type="module" src="{asset_path("main.js")}">' in page.text


def test_without_the_token_there_is_no_page(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        assert "set-cookie" not in client.get("/?token=wrong").headers
        assert client.get(asset_path("main.js")).status_code == 401
        assert client.get("/api/v1/sessions").status_code == 401


def test_the_cookie_opens_the_api_and_the_static_files(signed_in, store) -> None:
    sessions = signed_in.get("/api/v1/sessions")
    assert sessions.status_code == 200
    assert [s["id"] for s in sessions.json()["sessions"]] == [store.active_session().id]
    script = signed_in.get(asset_path("main.js"))
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
        answer = signed_in.get(asset_path(name))
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == "text/javascript; charset=utf-8", name
    # The stand-in table is in force: the style sheet, which needs no script type, follows it.
    assert signed_in.get(asset_path("app.css")).headers["content-type"] == "text/plain"


def test_the_bearer_token_still_opens_the_page_and_the_api(server, store) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{server.url}/", headers=auth)
    sessions = httpx.get(f"{server.url}/api/v1/sessions", headers=auth)
    assert page.status_code == 200
    assert f'<script type="module" src="{asset_path("main.js")}">' in page.text
    assert sessions.status_code == 200
    assert [s["id"] for s in sessions.json()["sessions"]] == [store.active_session().id]


def test_the_page_files_are_kept_for_good_under_the_fingerprint_the_page_names(
    signed_in,
) -> None:
    shell = signed_in.get("/")
    assert shell.headers["cache-control"] == "no-cache"  # the page itself: asked every time
    page = shell.text
    fingerprint = asset_fingerprint()
    assert f'href="/static/{fingerprint}/app.css"' in page
    for name in ("main.js", "flows.js", "app.css"):
        answer = signed_in.get(f"/static/{fingerprint}/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["cache-control"] == ASSET_CACHE
    other = ("1" if fingerprint[0] == "0" else "0") + fingerprint[1:]
    assert signed_in.get(f"/static/{other}/main.js").status_code == 404
    assert signed_in.get("/static/main.js").status_code == 404  # no address without one
    head = signed_in.head(f"/static/{fingerprint}/main.js")
    assert head.status_code == 200
    assert head.headers["cache-control"] == ASSET_CACHE


def test_a_changed_file_moves_every_file_to_a_new_fingerprint(
    signed_in, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser keeps what it has for good: an edited or upgraded file must get a new address,
    and the old address must not serve the new file beside old cached ones."""
    static = tmp_path / "static"
    shutil.copytree(STATIC, static)
    monkeypatch.setattr(routes, "STATIC", static)
    before = asset_fingerprint()
    with (static / "main.js").open("a", encoding="utf-8") as script:
        script.write("// edited\n")
    after = asset_fingerprint()

    assert after != before
    assert f'src="/static/{after}/main.js"' in signed_in.get("/").text
    assert signed_in.get(f"/static/{after}/main.js").text.endswith("// edited\n")
    assert signed_in.get(f"/static/{after}/flows.js").status_code == 200
    assert signed_in.get(f"/static/{before}/main.js").status_code == 404
