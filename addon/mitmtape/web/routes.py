"""The page's routes: `/` (sign-in by `?token=`, then the page) and `/static/...`.

Sign-in works the way Jupyter's does: the link the server prints carries the token once; the
answer sets an HttpOnly, SameSite=Strict cookie and sends the browser to `/`, so the token
leaves the address bar and the history. Both routes pass the same Host check as the API.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from tornado.web import HTTPError, RequestHandler, StaticFileHandler

from mitmtape.api.base import ApiHandler, Unauthorized
from mitmtape.api.security import cookie_name, cookie_value, refusal, same_text
from mitmtape.codegen import TARGETS
from mitmtape.export.formats import FORMATS
from mitmtape.model import OMISSIONS

SIGN_IN_QUERY = "token"
HERE = Path(__file__).parent
STATIC = HERE / "static"
SCRIPT_TYPE = "text/javascript; charset=utf-8"
# The page's files live under /static/{fingerprint}/: the browser keeps each for good and never
# asks again, since any change to any of them (a new version, an edit in a checkout) makes a
# new fingerprint, and with it new addresses for them all. (Revalidating each file on every
# load cost a round trip per module, level after level of imports.)
ASSET_CACHE = "private, max-age=31536000, immutable"
FINGERPRINT_DIGITS = 12
# Only this origin: scripts and styles are the files under /static/, images of response
# bodies are blob: URLs the script makes, nothing is framed, no form posts elsewhere.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SIGNED_OUT = (
    "Not signed in. Open the link that mitmtape printed when it started "
    "(http://127.0.0.1:PORT/?token=...), or call the API with Authorization: Bearer TOKEN.\n"
)


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _page_headers(handler: RequestHandler) -> None:
    handler.set_header("Content-Security-Policy", PAGE_POLICY)
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.set_header("X-Content-Type-Options", "nosniff")


class PageHandler(ApiHandler):
    """`GET /`: `?token=T` signs in and redirects; with the cookie (or Bearer), the page."""

    async def prepare(self) -> None:
        self.check_site()

    def set_default_headers(self) -> None:
        super().set_default_headers()
        _page_headers(self)

    def get(self) -> None:
        given = self.get_query_argument(SIGN_IN_QUERY, None)
        if given is not None:
            if not same_text(given, self.api.token):
                raise Unauthorized()
            self.set_cookie(
                cookie_name(self.api.port),
                cookie_value(self.api.token),
                path="/",
                httponly=True,
                samesite="Strict",
            )
            self.redirect("/", status=303)
            return
        if not self.authorized():
            raise Unauthorized()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        # Asked afresh each time (an unchanged page is a 304): it names today's fingerprint.
        self.set_header("Cache-Control", "no-cache")
        self.finish(render_page())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code != 401:
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(SIGNED_OUT)


def asset_fingerprint() -> str:
    """A hash of the static files' names, sizes and modification times: a few stat calls, so
    it is asked afresh for every page and every file."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            found = path.stat()
            name = path.relative_to(STATIC).as_posix()
            digest.update(f"{name}\0{found.st_size}\0{found.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:FINGERPRINT_DIGITS]


def asset_path(name: str) -> str:
    """Where the page finds one of its files now, e.g. `/static/0123456789ab/main.js`."""
    return f"/static/{asset_fingerprint()}/{name}"


def render_page() -> str:
    """The page's shell; its choices and sentences come from the same registries the API and
    the exports use, so a body that was not kept is explained in the same words everywhere."""
    return (
        _templates()
        .get_template("index.html.j2")
        .render(
            assets=f"/static/{asset_fingerprint()}",
            formats=[(name, fmt.label, fmt.shared) for name, fmt in FORMATS.items()],
            targets=list(TARGETS),
            omissions=OMISSIONS,
        )
    )


class StaticHandler(StaticFileHandler):
    """The page's script, style and icon, for a signed-in browser on this origin only."""

    def initialize(self) -> None:  # type: ignore[override]
        super().initialize(path=str(STATIC))

    async def get(self, fingerprint: str, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        """A file under today's fingerprint only: a page open since before an upgrade gets a
        404 for a file it lacks, never today's file beside its own older ones."""
        if fingerprint != asset_fingerprint():
            raise HTTPError(404)
        await super().get(path, include_body)

    def head(self, fingerprint: str, path: str) -> Any:  # type: ignore[override]
        return self.get(fingerprint, path, include_body=False)

    def prepare(self) -> None:
        api = self.settings["api"]
        if refusal(self.request, api.hosts) is not None:
            raise HTTPError(403)
        cookie = self.get_cookie(cookie_name(api.port))
        if cookie is None or not same_text(cookie, cookie_value(api.token)):
            raise HTTPError(401)

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        _page_headers(self)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", ASSET_CACHE)

    def get_content_type(self) -> str:
        """Browsers run a module script only with a JavaScript type, and the platform's table
        (which tornado asks) can say otherwise: Windows' registry often maps .js to text/plain."""
        if self.absolute_path is not None and self.absolute_path.endswith(".js"):
            return SCRIPT_TYPE
        return super().get_content_type()


WEB_ROUTES: list[tuple[str, type[RequestHandler]]] = [
    (r"/", PageHandler),
    (rf"/static/([0-9a-f]{{{FINGERPRINT_DIGITS}}})/(.*)", StaticHandler),
]
