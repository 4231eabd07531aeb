"""A flow's fields as plain values, and the record they make.

Capturing runs on mitmproxy's event loop, so it only copies mitmproxy's raw values into a
`WireSnapshot` (plain tuples, cheap to build and pickle); the writer process turns that into a
`FlowSnapshot` and builds the record (decoding headers, timings, ids). Nothing here imports
mitmproxy.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from functools import lru_cache
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


class RequestSnapshot(NamedTuple):
    """A request as mitmproxy shows it (method, URL, host and path derived by `record.py`),
    then its raw message."""

    method: str
    url: str
    host: str
    port: int
    path: str
    http_version: str
    fields: RawHeaders
    content: BodyWire
    trailers: RawHeaders | None
    timestamp_start: float | None
    timestamp_end: float | None


class ResponseSnapshot(NamedTuple):
    status: int
    reason: str
    http_version: str
    fields: RawHeaders
    content: BodyWire
    trailers: RawHeaders | None
    timestamp_start: float | None
    timestamp_end: float | None


# What both messages have: their version, headers, body, trailers and timestamps.
MessageSnapshot = RequestSnapshot | ResponseSnapshot


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
        response_end = None if response is None else response.timestamp_end
        return FlowRecord(
            session_id=session_id,
            started_at=datetime.fromtimestamp(request.timestamp_start or 0, UTC),
            duration_ms=duration_ms(request.timestamp_start, response_end),
            source="replay" if self.is_replay else "proxy",
            request=_request(request),
            response=_response(response),
            timings=timings(self),
            error=self.error,
            metadata=metadata_of(self.comment, self.marker),
            client=None if not self.client else peer_of(self.client),
            server=server_of(self.server),
            websocket=None if self.websocket is None else websocket_messages(self.websocket),
        )


def duration_ms(request_start: float | None, response_end: float | None) -> float | None:
    """From the request's first byte to the response's last, in ms; None without a response."""
    if response_end is None:
        return None
    return round((response_end - (request_start or 0)) * 1000, 3)


def websocket_messages(messages: WebSocketMessages) -> list[WebSocketMessage]:
    return [
        WebSocketMessage(from_client, "text" if is_text else "binary", moment, content)
        for from_client, is_text, moment, content in messages
    ]


def decode_header_bytes(raw: bytes) -> str:
    """Header bytes as text: UTF-8 where valid (what servers mean), else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def headers_of(fields: RawHeaders | None) -> Headers:
    """Header lines in wire order, repeated names kept.

    Nearly every message's headers are all UTF-8 (mostly ASCII), decoded here without a
    fallback per line; only a message with another byte in it pays for `decode_header_bytes`.
    """
    if not fields:
        return []
    try:
        return [(name.decode(), value.decode()) for name, value in fields]
    except UnicodeDecodeError:
        return [(decode_header_bytes(name), decode_header_bytes(value)) for name, value in fields]


def microseconds(start: float | None, end: float | None) -> int:
    """A phase length in µs, or -1 when either end is unknown or the clock went backwards."""
    if start is None or end is None or end < start:
        return UNKNOWN_TIME
    return round((end - start) * 1_000_000)


# Distinct server addresses a writer remembers whether they are IP literals.
IP_LITERAL_CACHE_SIZE = 4096


@lru_cache(maxsize=IP_LITERAL_CACHE_SIZE)
def _is_ip_literal(host: str) -> bool:
    """Whether an address is an IP, not a name; cached, as `ipaddress` takes microseconds."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def timings(flow: FlowSnapshot) -> Timings:
    """Phases from mitmproxy's timestamps, as its own HAR export reads them (`phases`)."""
    request, response = flow.request, flow.response
    return Timings(
        *phases(
            request.timestamp_start,
            request.timestamp_end,
            None if response is None else (response.timestamp_start, response.timestamp_end),
            flow.server,
        )
    )


def phases(
    request_start: float | None,
    request_end: float | None,
    response_times: tuple[float | None, float | None] | None,
    server: ServerSnapshot,
) -> tuple[int, int, int, int, int, int]:
    """The six phases in µs (`TIMING_PHASES` order), as mitmproxy's own HAR export reads them.

    mitmproxy resolves and connects in one step, so DNS is 0 for an IP literal and unknown
    otherwise; `connect` includes the lookup. A reused connection has no connect or TLS time.
    """
    dns = connect = ssl = wait = receive = UNKNOWN_TIME
    if server.fresh and server.timestamp_tcp_setup is not None:
        connect = microseconds(server.timestamp_start, server.timestamp_tcp_setup)
        ssl = microseconds(server.timestamp_tcp_setup, server.timestamp_tls_setup)
        if server.address and _is_ip_literal(str(server.address[0])):
            dns = 0
    if response_times is not None:
        response_start, response_end = response_times
        wait = microseconds(request_end, response_start)
        receive = microseconds(response_start, response_end)
    return dns, connect, ssl, microseconds(request_start, request_end), wait, receive


def peer_of(peer: tuple[str, int]) -> dict[str, object]:
    return {"host": str(peer[0]), "port": int(peer[1])}


def server_of(server: ServerSnapshot) -> dict[str, object] | None:
    known = server.address or server.peername
    if known is None:
        return None
    return {
        "host": str(known[0]),
        "port": int(known[1]),
        "ip": str(server.peername[0]) if server.peername else None,
        "sni": server.sni,
        "tls_version": server.tls_version,
        "alpn": server.alpn.decode("ascii", errors="replace") if server.alpn else None,
    }


# Records are built with positional arguments, in the model's field order: a dataclass called
# with keywords first gathers them into a dict, which costs the writer a microsecond a record.


def _request(request: RequestSnapshot) -> Request:
    return Request(
        request.method,
        request.url,
        request.host,
        request.port,
        bare_path(request.path),
        request.http_version,
        headers_of(request.fields),
        body_of(request),
        None if request.trailers is None else headers_of(request.trailers),
    )


def bare_path(path: str) -> str:
    """A request target's path without its query, as records keep it."""
    return path.split("?", 1)[0] or "/"


def body_of(message: MessageSnapshot) -> Body:
    return Body(*body_parts(message.content, message.fields))


def body_parts(content: BodyWire, fields: RawHeaders) -> tuple[bytes, int, Omitted | None]:
    """A `Body`'s fields: the bytes kept, or for a body not kept the size that crossed the
    wire and why it was not kept."""
    if not isinstance(content, tuple):
        return content or b"", 0, None
    reason, size = content
    return b"", declared_length(fields) if size is None else size, reason


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
    return Response(
        response.status,
        response.reason,
        response.http_version,
        headers_of(response.fields),
        body_of(response),
        None if response.trailers is None else headers_of(response.trailers),
    )


def metadata_of(comment: str, marker: str) -> dict[str, object]:
    metadata: dict[str, object] = {}
    if comment:
        metadata["comment"] = comment
    if marker:
        metadata["marker"] = marker
    return metadata
