"""mitmproxy `HTTPFlow` ⇄ `FlowRecord`: the only core module that touches mitmproxy objects.

Capturing runs on mitmproxy's event loop, so a flow only becomes a wire snapshot here (a copy
of raw values, no I/O); the writer process turns it into a `FlowSnapshot` and a record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from mitmproxy import flowfilter, http
from mitmproxy.connection import Client, Server
from mitmproxy.flow import Error
from mitmproxy.websocket import WebSocketData
from mitmproxy.websocket import WebSocketMessage as MitmWebSocketMessage
from wsproto.frame_protocol import Opcode

from mitmtape.capture.filterguard import FilterTooComplex, check_filter
from mitmtape.capture.snapshot import (
    STREAMED,
    BodyWire,
    FlowSnapshot,
    MessageSnapshot,
    RawHeaders,
    RequestSnapshot,
    RequestWire,
    ResponseSnapshot,
    ResponseWire,
    ServerSnapshot,
    WireSnapshot,
)
from mitmtape.model import (
    FlowRecord,
    Headers,
    Request,
    Response,
    Timings,
    WebSocketMessage,
)


def _message(message: http.Message) -> MessageSnapshot:
    return MessageSnapshot(
        http_version=message.http_version,
        fields=message.headers.fields,
        content=message.raw_content,
        trailers=_trailer_fields(message.trailers),
        timestamp_start=message.timestamp_start,
        timestamp_end=message.timestamp_end,
    )


def _trailer_fields(trailers: http.Headers | None) -> RawHeaders | None:
    return None if trailers is None else trailers.fields


def snapshot_of(
    flow: http.HTTPFlow, fresh_connection: bool = True, max_body_size: int | None = None
) -> WireSnapshot:
    """Copy what a record needs out of a flow, as raw as mitmproxy holds it.

    This runs on mitmproxy's event loop for every flow, so it does the least it can: plain
    tuples of mitmproxy's raw values in its constructors' argument order, nothing decoded or
    derived (`snapshot_from_wire` does that in the writer process). A body over
    `max_body_size` (`tape_max_body_size`) is left out, its size kept.
    """
    request, response, server = flow.request.data, flow.response, flow.server_conn
    websocket = flow.websocket
    return (
        (
            request.host,
            request.port,
            request.method,
            request.scheme,
            request.authority,
            request.path,
            request.http_version,
            request.headers.fields,
            _body_wire(request.content, flow.request.stream, max_body_size),
            _trailer_fields(request.trailers),
            request.timestamp_start,
            request.timestamp_end,
        ),
        None if response is None else _response_wire(response, max_body_size),
        (
            server.address,
            server.peername,
            server.sni,
            server.tls_version,
            server.alpn,
            server.timestamp_start,
            server.timestamp_tcp_setup,
            server.timestamp_tls_setup,
            fresh_connection,
        ),
        flow.client_conn.peername,
        flow.error.msg if flow.error else None,
        bool(flow.is_replay),
        flow.comment,
        flow.marked,
        None
        if websocket is None
        else tuple(
            (m.from_client, m.type == Opcode.TEXT, m.timestamp, m.content)
            for m in websocket.messages
        ),
    )


def _response_wire(message: http.Response, max_body_size: int | None) -> ResponseWire:
    response = message.data
    return (
        response.http_version,
        response.status_code,
        response.reason,
        response.headers.fields,
        _body_wire(response.content, message.stream, max_body_size),
        _trailer_fields(response.trailers),
        response.timestamp_start,
        response.timestamp_end,
    )


def _body_wire(content: bytes | None, streamed: object, max_body_size: int | None) -> BodyWire:
    """The body as kept: mitmproxy keeps none of a streamed one, mitmtape none over the limit."""
    if content is None:
        return STREAMED if streamed else None
    if max_body_size is not None and len(content) > max_body_size:
        return ("too-large", len(content))
    return content


class _MessageViews(threading.local):
    """One mitmproxy `Request` and `Response` per thread, whose raw data each flow replaces.

    Reading a flow's URL, host and text fields through them applies mitmproxy's own rules
    (`pretty_url`, decodings) without the type checks its constructors run on every field,
    which would cost the writer about 60 µs a flow.
    """

    def __init__(self) -> None:
        self.request = http.Request.make("GET", "http://mitmtape.invalid/")
        self.response = http.Response.make()

    def request_of(self, wire: RequestWire) -> http.Request:
        data = self.request.data
        (data.host, data.port, data.method, data.scheme, data.authority, data.path,
         data.http_version, fields, data.content, trailers, data.timestamp_start,
         data.timestamp_end) = wire  # fmt: skip
        data.headers, data.trailers = http.Headers(fields), _optional_headers(trailers)
        return self.request

    def response_of(self, wire: ResponseWire) -> http.Response:
        data = self.response.data
        (data.http_version, data.status_code, data.reason, fields, data.content, trailers,
         data.timestamp_start, data.timestamp_end) = wire  # fmt: skip
        data.headers, data.trailers = http.Headers(fields), _optional_headers(trailers)
        return self.response


def _optional_headers(fields: RawHeaders | None) -> http.Headers | None:
    return None if fields is None else http.Headers(fields)


_VIEWS = _MessageViews()


def snapshot_from_wire(wire: WireSnapshot) -> FlowSnapshot:
    """The snapshot `snapshot_of` copied, with URL, host and text fields derived.

    They are read through mitmproxy's own classes, so the URL is exactly mitmproxy's
    `pretty_url` (Host header or HTTP/2 authority preferred, as mitmproxy shows it).
    """
    request_wire, response_wire, server_wire, client, error, is_replay, comment, marker, ws = wire
    request = _VIEWS.request_of(request_wire)
    response = None if response_wire is None else _VIEWS.response_of(response_wire)
    return FlowSnapshot(
        request=RequestSnapshot(
            request.method,
            request.pretty_url,
            request.pretty_host,
            request.port,
            request.path,
            _message(request),
        ),
        response=None
        if response is None
        else ResponseSnapshot(response.status_code, response.reason, _message(response)),
        server=ServerSnapshot(*server_wire),
        client=client,
        error=error,
        is_replay=is_replay,
        comment=comment,
        marker=marker,
        websocket=ws,
    )


def flow_to_record(
    flow: http.HTTPFlow, session_id: str, seen_servers: Collection[str] = ()
) -> FlowRecord:
    """One record of a finished (or failed) flow.

    `seen_servers` holds ids of server connections that earlier flows already used, so a reused
    connection is not charged a second connect and TLS time.
    """
    fresh = flow.server_conn.id not in seen_servers
    return snapshot_from_wire(snapshot_of(flow, fresh)).to_record(session_id)


# FlowRecord → mitmproxy `HTTPFlow`: imported flows shown in mitmproxy's list and replayed there.

# In a flow's metadata, what mitmproxy's flow has no field for (tags, mitmtape's metadata):
# the mitmproxy flow-file export writes it and its import reads it back.
KEPT_KEY = "mitmtape"


def _header_fields(headers: Headers | None) -> http.Headers:
    return http.Headers(
        [(name.encode("utf-8"), value.encode("utf-8")) for name, value in headers or []]
    )


def _seconds(microseconds_: int) -> float:
    return max(microseconds_, 0) / 1_000_000


def _request_to_mitmproxy(request: Request, start: float, end: float) -> http.Request:
    rebuilt = http.Request.make(request.method, request.url)
    # Set after `make`, which would add a Content-Length of its own.
    rebuilt.headers = _header_fields(request.headers)
    rebuilt.http_version = request.http_version
    rebuilt.raw_content = request.body.data
    rebuilt.trailers = None if request.trailers is None else _header_fields(request.trailers)
    rebuilt.timestamp_start, rebuilt.timestamp_end = start, end
    return rebuilt


def _response_to_mitmproxy(response: Response, start: float, end: float) -> http.Response:
    return http.Response(
        http_version=response.http_version.encode("ascii", errors="replace"),
        status_code=response.status,
        reason=response.reason.encode("utf-8"),
        headers=_header_fields(response.headers),
        content=response.body.data,
        trailers=None if response.trailers is None else _header_fields(response.trailers),
        timestamp_start=start,
        timestamp_end=end,
    )


def _phase_ends(record: FlowRecord) -> tuple[float, float, float, float]:
    """Request start and end, response start and end, spread by the timings where known."""
    start = record.started_at.timestamp()
    end = start + (record.duration_ms or 0) / 1000
    timings = record.timings or Timings()
    request_end = min(start + _seconds(timings.send), end) if end > start else start
    response_start = max(end - _seconds(timings.receive), request_end)
    return start, request_end, response_start, max(end, response_start)


def _client(record: FlowRecord, start: float) -> Client:
    peer = record.client or {}
    address = (str(peer.get("host") or "127.0.0.1"), int(peer.get("port") or 0))
    return Client(peername=address, sockname=("127.0.0.1", 0), timestamp_start=start)


def _server(record: FlowRecord) -> Server:
    server = Server(address=(record.request.host, record.request.port))
    ip = (record.server or {}).get("ip")
    if ip:
        server.peername = (str(ip), record.request.port)
    return server


def _mitmproxy_message(message: WebSocketMessage) -> MitmWebSocketMessage:
    kind = Opcode.TEXT if message.type == "text" else Opcode.BINARY
    return MitmWebSocketMessage(kind, message.from_client, message.content, message.timestamp)


def record_to_flow(record: FlowRecord) -> http.HTTPFlow:
    """A finished, replayable mitmproxy flow from a record (raw bodies, headers in order).

    The flow is not live and not a replay, so mitmproxy's view can list it and its client
    replay accepts it; `metadata["mitmtape_id"]` ties it back to the record.
    """
    start, request_end, response_start, end = _phase_ends(record)
    request = record.request
    flow = http.HTTPFlow(_client(record, start), _server(record))
    flow.request = _request_to_mitmproxy(request, start, request_end)
    if record.response is not None:
        flow.response = _response_to_mitmproxy(record.response, response_start, end)
    if record.error is not None:
        flow.error = Error(record.error, timestamp=end)
    if record.websocket is not None:
        flow.websocket = WebSocketData(messages=[_mitmproxy_message(m) for m in record.websocket])
    flow.comment = str(record.metadata.get("comment") or "")
    marker = record.metadata.get("marker")
    flow.marked = marker if isinstance(marker, str) else ""
    flow.metadata["mitmtape_id"] = record.id
    return flow


class FilterError(ValueError):
    """A mitmproxy filter expression refused: it does not parse, or would take too long to."""


def compile_expression(expression: str) -> Callable[[FlowRecord], bool]:
    """A predicate on records from a mitmproxy filter expression (`~d example.com & ~m POST`).

    mitmproxy's own filter language, run on the flow rebuilt from each record, so every
    operator (`~b`, `~hq`, `~c`, `~websocket`...) means exactly what it means in mitmproxy.
    The guard goes first: mitmproxy 11's parser is exponential in nesting (`filterguard`).
    """
    try:
        check_filter(expression)
    except FilterTooComplex as exc:
        raise FilterError(str(exc)) from None
    try:
        matcher = flowfilter.parse(expression)
    except ValueError:
        raise FilterError(f"invalid mitmproxy filter expression {expression!r}") from None
    return lambda record: bool(matcher(record_to_flow(record)))
