"""A chunked request body (no Content-Length) past REQUEST_BODY_MAX, answered with a 413.

A body that declares its length is refused before it is read (`BodyTooLargeHandler`). A chunked
one tells its size only at its end, and tornado cuts the connection with a bare 400 when it
passes the server's limit. So for routes that read their body whole, the connection reads on
(up to BODY_DISCARD_MAX), this delegate counts what arrives and stops passing it on at the limit,
and at the end the request goes to `ChunkedTooLargeHandler` instead: token first, then a 413
naming the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tornado.httputil import HTTPHeaders, HTTPMessageDelegate, RequestStartLine, ResponseStartLine

from mitmtape.api.base import REQUEST_BODY_MAX, ApiError, BodyTooLargeHandler, Unauthorized


class ChunkedTooLargeHandler(BodyTooLargeHandler):
    """The 413 of a chunked body that went past the limit (its length was never declared)."""

    async def prepare(self) -> None:
        """The site and the token, as any route checks them (the body is already read)."""
        self.check_site()
        if not self.authorized():
            raise Unauthorized()

    async def refuse(self, *args: str) -> None:
        raise ApiError(
            413,
            f"the request body is over {REQUEST_BODY_MAX:,} bytes; this endpoint takes at most "
            f"{REQUEST_BODY_MAX:,} bytes",
        )

    get = head = post = put = patch = delete = options = refuse


class BoundedChunks(HTTPMessageDelegate):
    """Passes a chunked request on to its route's delegate until the body passes the limit;
    after that, hands the request to `refused()`, a delegate for ChunkedTooLargeHandler."""

    def __init__(self, route: HTTPMessageDelegate, refused: Callable[[], HTTPMessageDelegate]):
        self.route = route
        self.refused = refused
        self.received = 0
        self.start_line: RequestStartLine | ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        self.start_line, self.headers = start_line, headers
        return self.route.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.received += len(chunk)
        if self.received > REQUEST_BODY_MAX:
            return None  # dropped: the route never sees a body it cannot take
        return self.route.data_received(chunk)

    def finish(self) -> None:
        if self.received <= REQUEST_BODY_MAX:
            self.route.finish()
            return
        assert self.start_line is not None and self.headers is not None
        refusal = self.refused()
        refusal.headers_received(self.start_line, self.headers)
        refusal.finish()

    def on_connection_close(self) -> None:
        self.route.on_connection_close()
