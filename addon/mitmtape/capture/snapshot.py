"""A flow's fields as plain values, and the record they make.

Capturing runs on mitmproxy's event loop, so it only copies mitmproxy's raw values into a
`WireSnapshot` (plain tuples, cheap to build and pickle); the writer process turns that into a
`FlowSnapshot` and builds the record (decoding headers, timings, ids). Nothing here imports
mitmproxy.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import NamedTuple

from mitmtape.model import (
    UNKNOWN_TIME,
    Body,
    FlowRecord,
    Headers,
    Omitted,
    Request,
    Response,
    Timings,
    WebSocketMessage,
)

RawHeaders = tuple[tuple[bytes, bytes], ...]
# A body in the wire form: the bytes mitmproxy kept (None: it never got any), or, for a body
# mitmtape does not keep, why (an `Omitted` name) and its size (None: the headers tell).
OmittedWire = tuple[Omitted, int | None]
BodyWire = bytes | OmittedWire | None
STREAMED: OmittedWire = ("streamed", None)
WebSocketMessages = tuple[tuple[bool, bool, float, bytes], ...]

# The wire form, in the argument order of mitmproxy's `Request` and `Response` constructors:
# (host, port, method, scheme, authority, path, http_version, headers, content, trailers,
#  timestamp_start, timestamp_end) and (http_version, status_code, reason, headers, content,
#  trailers, timestamp_start, timestamp_end); the server part is `ServerSnapshot`'s fields and
# the rest `FlowSnapshot`'s.
RequestWire = tuple[
    str, int, bytes, bytes, bytes, bytes, bytes, RawHeaders, BodyWire, RawHeaders | None,
    float, float | None,
]  # fmt: skip
ResponseWire = tuple[
    bytes, int, bytes, RawHeaders, BodyWire, RawHeaders | None, float, float | None
]
ServerWire = tuple[
    tuple[str, int] | None, tuple[str, int] | None, str | None, str | None, bytes | None,
    float | None, float | None, float | None, bool,
]  # fmt: skip
WireSnapshot = tuple[
    RequestWire, ResponseWire | None, ServerWire, tuple[str, int] | None, str | None, bool, str,
    str, WebSocketMessages | None,
]  # fmt: skip


class MessageSnapshot(NamedTuple):
    http_version: str
    fields: RawHeaders
    content: BodyWire
    trailers: RawHeaders | None
    timestamp_start: float | None
    timestamp_end: float | None


class RequestSnapshot(NamedTuple):
    method: str
    url: str
    host: str
    port: int
    path: str
    message: MessageSnapshot


class ResponseSnapshot(NamedTuple):
    status: int
    reason: str
    message: MessageSnapshot


class ServerSnapshot(NamedTuple):
    address: tuple[str, int] | None
    peername: tuple[str, int] | None
    sni: str | None
    tls_version: str | None
    alpn: bytes | None
    timestamp_start: float | None
    timestamp_tcp_setup: float | None
    timestamp_tls_setup: float | None
    # False when an earlier flow already used this connection: no connect or TLS time then.
    fresh: bool


class FlowSnapshot(NamedTuple):
    request: RequestSnapshot
    response: ResponseSnapshot | None
    server: ServerSnapshot
    client: tuple[str, int] | None
    error: str | None
    is_replay: bool
    comment: str
    marker: str
    # (from_client, is_text, timestamp, content) per message, or None for plain HTTP.
    websocket: WebSocketMessages | None

    def to_record(self, session_id: str) -> FlowRecord:
        request, response = self.request, self.response
        duration_ms = None
        if response is not None and response.message.timestamp_end is not None:
            elapsed = response.message.timestamp_end - (request.message.timestamp_start or 0)
            duration_ms = round(elapsed * 1000, 3)
        return FlowRecord(
            session_id=session_id,
            started_at=datetime.fromtimestamp(request.message.timestamp_start or 0, UTC),
            duration_ms=duration_ms,
            source="replay" if self.is_replay else "proxy",
            request=_request(request),
            response=_response(response),
            timings=timings(self),
            error=self.error,
            metadata=_metadata(self),
            client=None if not self.client else _peer(self.client),
            server=_server(self.server),
            websocket=None
            if self.websocket is None
            else [
                WebSocketMessage(from_client, "text" if is_text else "binary", moment, content)
                for from_client, is_text, moment, content in self.websocket
            ],
        )


def decode_header_bytes(raw: bytes) -> str:
    """Header bytes as text: UTF-8 where valid (what servers mean), else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def headers_of(fields: RawHeaders | None) -> Headers:
    """Header lines in wire order, repeated names kept."""
    return [(decode_header_bytes(name), decode_header_bytes(value)) for name, value in fields or ()]


def microseconds(start: float | None, end: float | None) -> int:
    """A phase length in µs, or -1 when either end is unknown or the clock went backwards."""
    if start is None or end is None or end < start:
        return UNKNOWN_TIME
    return round((end - start) * 1_000_000)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def timings(flow: FlowSnapshot) -> Timings:
    """Phases from mitmproxy's timestamps, as its own HAR export reads them.

    mitmproxy resolves and connects in one step, so DNS is 0 for an IP literal and unknown
    otherwise; `connect` includes the lookup. A reused connection has no connect or TLS time.
    """
    request, response, server = flow.request.message, flow.response, flow.server
    phases = Timings(send=microseconds(request.timestamp_start, request.timestamp_end))
    if server.fresh and server.timestamp_tcp_setup is not None:
        phases.connect = microseconds(server.timestamp_start, server.timestamp_tcp_setup)
        phases.ssl = microseconds(server.timestamp_tcp_setup, server.timestamp_tls_setup)
        if server.address and _is_ip_literal(str(server.address[0])):
            phases.dns = 0
    if response is not None:
        phases.wait = microseconds(request.timestamp_end, response.message.timestamp_start)
        phases.receive = microseconds(
            response.message.timestamp_start, response.message.timestamp_end
        )
    return phases


def _peer(peer: tuple[str, int]) -> dict[str, object]:
    return {"host": str(peer[0]), "port": int(peer[1])}


def _server(server: ServerSnapshot) -> dict[str, object] | None:
    known = server.address or server.peername
    if known is None:
        return None
    return {
        **_peer(known),
        "ip": str(server.peername[0]) if server.peername else None,
        "sni": server.sni,
        "tls_version": server.tls_version,
        "alpn": server.alpn.decode("ascii", errors="replace") if server.alpn else None,
    }


def _request(request: RequestSnapshot) -> Request:
    message = request.message
    return Request(
        method=request.method,
        url=request.url,
        host=request.host,
        port=request.port,
        path=request.path.split("?", 1)[0] or "/",
        http_version=message.http_version,
        headers=headers_of(message.fields),
        body=body_of(message),
        trailers=None if message.trailers is None else headers_of(message.trailers),
    )


def body_of(message: MessageSnapshot) -> Body:
    """The body kept, or the record of one not kept with the size that crossed the wire."""
    content = message.content
    if not isinstance(content, tuple):
        return Body(content or b"")
    reason, size = content
    return Body(b"", declared_length(message.fields) if size is None else size, reason)


def declared_length(fields: RawHeaders) -> int:
    """The Content-Length a message's headers state, or 0 when they state none (chunked)."""
    for name, value in fields:
        if name.lower() == b"content-length":
            try:
                return max(int(value), 0)
            except ValueError:
                return 0
    return 0


def _response(response: ResponseSnapshot | None) -> Response | None:
    if response is None:
        return None
    message = response.message
    return Response(
        status=response.status,
        reason=response.reason,
        http_version=message.http_version,
        headers=headers_of(message.fields),
        body=body_of(message),
        trailers=None if message.trailers is None else headers_of(message.trailers),
    )


def _metadata(flow: FlowSnapshot) -> dict[str, object]:
    metadata: dict[str, object] = {}
    if flow.comment:
        metadata["comment"] = flow.comment
    if flow.marker:
        metadata["marker"] = flow.marker
    return metadata
