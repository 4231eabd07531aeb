"""What every HTTP API handler shares: the token check, JSON errors, query parsing, worker calls.

The core raises its own exceptions (`SessionNotFound`, `ImportFailed`...); `ERROR_STATUS` is the
one table that turns them into status codes, so no handler branches on exception types and a
bad request can never surface as a 500.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from tornado.web import HTTPError, RequestHandler, stream_request_body

from mitmtape.api.context import ApiContext
from mitmtape.api.security import cookie_name, cookie_value, refusal, same_text
from mitmtape.capture.record import FilterError
from mitmtape.export.pipeline import ExportError
from mitmtape.importers import FileTooLarge, ImportFailed
from mitmtape.store import ArtifactNotFound, FlowFilter, FlowNotFound, SessionNotFound, StoreError
from mitmtape.workspace import WorkspaceError, WorkspaceNotFound, WorkspaceTooLarge

T = TypeVar("T")

# Looked up along the exception's class hierarchy, most specific class first.
ERROR_STATUS: dict[type[Exception], int] = {
    SessionNotFound: 404,
    FlowNotFound: 404,
    ArtifactNotFound: 404,
    WorkspaceNotFound: 404,
    WorkspaceTooLarge: 413,
    WorkspaceError: 400,
    FileTooLarge: 413,
    ImportFailed: 400,
    FilterError: 400,
    ExportError: 400,
    StoreError: 400,
}
STATUS_RANGE = (0, 999)
PAGE_LIMIT_MAX = 1_000
OFFSET_MAX = 1_000_000_000
PAGE_QUERY = frozenset({"limit", "offset"})
FILTER_QUERY = frozenset({"method", "url", "host", "status_min", "status_max"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
JSON_TYPE = "application/json"
# Bodies of requests other than imports (a new session's JSON) are read whole; this bounds them.
REQUEST_BODY_MAX = 1024 * 1024
# A body declared over REQUEST_BODY_MAX is read past (and dropped) up to this size, so the
# client can read the 413 instead of meeting a reset; a larger one is answered, then cut off.
BODY_DISCARD_MAX = 64 * 1024 * 1024


class ApiError(HTTPError):
    """A refusal with a message for the client: `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status)
        self.message = message


class Forbidden(ApiError):
    """A request from somewhere the server never answers: a foreign Host or Origin."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class Unauthorized(HTTPError):
    """No valid token: 401 and nothing else."""

    def __init__(self) -> None:
        super().__init__(401)


def error_status(exc: BaseException) -> int | None:
    for kind in type(exc).__mro__:
        if kind in ERROR_STATUS:
            return ERROR_STATUS[kind]
    return None


def attachment(file_name: str) -> str:
    """`Content-Disposition` for a download; RFC 6266 `filename*` carries a non-ASCII name."""
    plain = "".join(
        char if " " <= char < "\x7f" and char not in '"\\' else "_" for char in file_name
    )
    value = f'attachment; filename="{plain}"'
    if plain != file_name:
        value += f"; filename*=UTF-8''{quote(file_name, safe='')}"
    return value


def preferred_type(accept: str, offered: Sequence[str]) -> str:
    """The offered media type the `Accept` header ranks highest; the first one by default.

    Only types the client names exactly count, so `*/*` (curl, scripts) gets the default and a
    browser's `text/html,...` gets HTML.
    """
    best, best_quality = offered[0], 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in offered and quality > best_quality:
            best, best_quality = media.lower(), quality
    return best


def with_charset(media_type: str) -> str:
    """Text types say they are UTF-8 (every mitmtape text file is); others stay as they are."""
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


class ApiHandler(RequestHandler):
    """Base of every API handler: token first, then JSON in and out."""

    # The query parameters the endpoint takes; any other is refused, so a misspelt filter
    # (`status-min`) is an error instead of an export of everything.
    QUERY: frozenset[str] = frozenset()

    @property
    def api(self) -> ApiContext:
        return self.settings["api"]

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        self.check_site()
        if not self.authorized():
            raise Unauthorized()
        self.check_query()

    def check_site(self) -> None:
        """Before the token: a foreign `Host` or a cross-site change is refused outright."""
        reason = refusal(self.request, self.api.hosts)
        if reason is not None:
            raise Forbidden(reason)

    def check_query(self) -> None:
        unknown = sorted(set(self.request.query_arguments) - self.QUERY)
        if unknown:
            takes = ", ".join(sorted(self.QUERY)) or "none"
            raise ApiError(
                400, f"unknown query parameter {unknown[0]!r}; this endpoint takes: {takes}"
            )

    def authorized(self) -> bool:
        """The one place that decides who may call the API: the Bearer token (scripts), or the
        web page's sign-in cookie (a browser, which `check_site` has held to this origin)."""
        scheme, _, credentials = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same_text(credentials.strip(), self.api.token):
            return True
        cookie = self.get_cookie(cookie_name(self.api.port))
        return cookie is not None and same_text(cookie, cookie_value(self.api.token))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:
            self.set_header("WWW-Authenticate", "Bearer")
            self.clear_header("Content-Type")
            self.finish()
            return
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif status_code >= 500:
            message = "internal error; the server log has the details"
        else:
            message = self._reason
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps({"error": message}, ensure_ascii=False))

    def allowed_methods(self) -> list[str]:
        return [
            method
            for method in ("GET", "POST", "PATCH", "DELETE")
            if getattr(type(self), method.lower()) is not getattr(RequestHandler, method.lower())
        ]

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(value, ensure_ascii=False))

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking core call on the server's worker threads; core errors become ApiErrors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.api.executor, functools.partial(call, *args, **kwargs)
            )
        except asyncio.CancelledError:
            # The server is stopping and dropped queued work: answer, do not log a traceback.
            raise ApiError(503, "the mitmtape server is stopping") from None
        except Exception as exc:
            status = error_status(exc)
            if status is None:
                raise
            raise ApiError(status, str(exc)) from exc

    # Query parameters: a value that does not parse is a 400 naming the parameter.

    def query_raw(self, name: str) -> str | None:
        """The value as sent, None when absent; a parameter given twice is refused, since
        which one counts would be a guess. (Not tornado's stripping, which would turn a value
        of odd characters into "missing".)"""
        values = self.get_query_arguments(name, strip=False)
        if len(values) > 1:
            raise ApiError(400, f"{name} is given {len(values)} times; give it once")
        return values[0] if values else None

    def query_text(self, name: str) -> str | None:
        """A text filter; empty filters nothing."""
        return self.query_raw(name) or None

    def query_int(self, name: str, default: int | None, low: int, high: int) -> int | None:
        text = self.query_raw(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
        return value

    def query_bool(self, name: str) -> bool:
        text = (self.query_raw(name) or "false").strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ApiError(400, f"{name} must be true or false, got {text!r}")

    def query_page(self, default_limit: int = 100) -> tuple[int, int]:
        limit = self.query_int("limit", default_limit, 0, PAGE_LIMIT_MAX)
        offset = self.query_int("offset", 0, 0, OFFSET_MAX)
        assert limit is not None and offset is not None
        return limit, offset

    def query_flow_filter(self) -> FlowFilter:
        return FlowFilter(
            method=self.query_text("method"),
            url=self.query_text("url"),
            host=self.query_text("host"),
            status_min=self.query_int("status_min", None, *STATUS_RANGE),
            status_max=self.query_int("status_max", None, *STATUS_RANGE),
        )


class NotFoundHandler(ApiHandler):
    """Every path the API does not know (after the token check, like every route)."""

    async def prepare(self) -> None:
        self.check_site()
        if not self.authorized():
            raise Unauthorized()
        raise ApiError(404, f"no API endpoint at {self.request.path}")


def body_too_large(declared: int) -> str:
    return (
        f"the request body is {declared:,} bytes; this endpoint takes at most "
        f"{REQUEST_BODY_MAX:,} bytes"
    )


@stream_request_body
class BodyTooLargeHandler(ApiHandler):
    """Stands in for any route that reads its body whole when the declared body is over
    `REQUEST_BODY_MAX` (see `ApiApplication`): after the token check the body is read and
    dropped, then the answer is a 413 naming the limit, where tornado would send a bare 400
    and close the connection under a client still sending."""

    async def prepare(self) -> None:
        self.check_site()
        if not self.authorized():
            raise Unauthorized()
        declared = int(self.request.headers["Content-Length"])
        if declared > BODY_DISCARD_MAX:
            raise ApiError(413, body_too_large(declared))
        self.request.connection.set_max_body_size(declared)

    def data_received(self, chunk: bytes) -> None:
        """Nothing of a refused body is kept."""

    async def refuse(self, *args: str) -> None:
        raise ApiError(413, body_too_large(int(self.request.headers["Content-Length"])))

    get = head = post = put = patch = delete = options = refuse
