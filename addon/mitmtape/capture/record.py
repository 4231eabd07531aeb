"""mitmproxy `HTTPFlow` ⇄ `FlowRecord`: the only core module that touches mitmproxy objects.

Capturing runs on mitmproxy's event loop, so a flow only becomes a wire snapshot here (a copy
of raw values, no I/O); the writer process turns it into a `FlowSnapshot` and a record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from functools import lru_cache
from typing import Any, TypeVar

from mitmproxy import flowfilter, http
from mitmproxy.connection import Client, Server
from mitmproxy.flow import Error
from mitmproxy.net.http import url
from mitmproxy.websocket import WebSocketData
from mitmproxy.websocket import WebSocketMessage as MitmWebSocketMessage
from wsproto.frame_protocol import Opcode

from mitmtape.capture.filterguard import FilterTooComplex, check_filter
from mitmtape.capture.flowurl import url_parts
from mitmtape.capture.snapshot import (
    STREAMED,
    BodyWire,
    FlowSnapshot,
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


# Distinct (scheme, host, port, Host header) a writer remembers the URL origin and host of:
# traffic goes to few hosts, so most flows skip mitmproxy's authority parsing.
ORIGIN_CACHE_SIZE = 4096


def snapshot_from_wire(wire: WireSnapshot) -> FlowSnapshot:
    """The snapshot `snapshot_of` copied, with URL, host and text fields derived.

    The URL is exactly mitmproxy's `pretty_url` (Host header or HTTP/2 authority preferred, as
    mitmproxy shows it) and the host its `pretty_host`: `_request` follows those properties
    with mitmproxy's own URL helpers, reading the raw values straight from the wire instead of
    building a mitmproxy `Request` (whose type checks would cost the writer most of its time).
    """
    request_wire, response_wire, server_wire, *rest = wire
    response = None if response_wire is None else _response(response_wire)
    # `_make` takes the fields as one tuple; a NamedTuple's constructor binds each as an
    # argument first, which doubles what the snapshot's tuples cost.
    return FlowSnapshot._make(
        (_request(request_wire), response, ServerSnapshot._make(server_wire), *rest)
    )


def wire_text(raw: bytes) -> str:
    """mitmproxy's reading of a request's method, scheme, path, version and header values."""
    return raw.decode("utf-8", "surrogateescape")


def request_view(wire: RequestWire) -> tuple[str, str, str, str]:
    """The request's method, URL (`pretty_url`), host (`pretty_host`) and path as mitmproxy
    shows them."""
    host, port, method, scheme, authority, path = wire[:6]
    method_text, path_text = wire_text(method).upper(), wire_text(path)
    origin, pretty_host = _origin(wire_text(scheme), host, port, _host_header(wire))
    if method_text == "CONNECT":  # authority-form: mitmproxy shows the authority as the URL
        pretty_url = _authority(authority)
    else:  # an asterisk-form target (`OPTIONS *`) is the origin alone
        pretty_url = origin if path_text == "*" else origin + path_text
    return method_text, pretty_url, pretty_host, path_text


def _request(wire: RequestWire) -> RequestSnapshot:
    method, url, host, path = request_view(wire)
    return RequestSnapshot._make((method, url, host, wire[1], path, wire_text(wire[6]), *wire[7:]))


def _response(wire: ResponseWire) -> ResponseSnapshot:
    http_version, status_code, reason, fields, content, trailers, start, end = wire
    return ResponseSnapshot._make((
        status_code, reason_text(reason), wire_text(http_version), fields, content,
        trailers, start, end,
    ))  # fmt: skip


def reason_text(raw: bytes) -> str:
    """mitmproxy's reading of a response's reason phrase."""
    return raw.decode("ISO-8859-1")


def _host_header(wire: RequestWire) -> str | None:
    """mitmproxy's `Request.host_header`: HTTP/2 and 3 prefer the `:authority`, and repeated
    Host headers fold into one value, as mitmproxy's `Headers` fold them."""
    if wire[6] in (b"HTTP/2.0", b"HTTP/3"):
        authority = _authority(wire[4])
        if authority:
            return authority
    values = [wire_text(value) for name, value in wire[7] if name.lower() == b"host"]
    return ", ".join(values) if values else None


@lru_cache(maxsize=ORIGIN_CACHE_SIZE)
def _authority(raw: bytes) -> str:
    """mitmproxy's `Request.authority`: IDNA where it decodes, else UTF-8."""
    try:
        return raw.decode("idna")
    except UnicodeError:
        return raw.decode("utf8", "surrogateescape")


@lru_cache(maxsize=ORIGIN_CACHE_SIZE)
def _origin(scheme: str, host: str, port: int, host_header: str | None) -> tuple[str, str]:
    """`scheme://authority` of mitmproxy's `pretty_url` (the path follows it), and its
    `pretty_host`: the Host header's host and port where there is one, else the target's."""
    if not host_header:
        return url.unparse(scheme, host, port, ""), host
    pretty_host, pretty_port = url.parse_authority(host_header, check=False)
    pretty_port = pretty_port or url.default_port(scheme) or 443
    return url.unparse(scheme, pretty_host, pretty_port, ""), pretty_host


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

MessageT = TypeVar("MessageT", bound=http.Message)


def _header_state(headers: Headers | None) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode("utf-8"), value.encode("utf-8")) for name, value in headers or [])


def _seconds(microseconds_: int) -> float:
    return max(microseconds_, 0) / 1_000_000


def _restored(message_type: type[MessageT], data_type: type, state: dict[str, Any]) -> MessageT:
    """A mitmproxy message restored from its state, as mitmproxy's `set_state` restores one.

    Constructing a message runs a type check of every field unless Python runs with `-O`;
    for a flow rebuilt to be matched against an expression, that check cost as much as the rest
    of the rebuild. The state's types are the ones mitmproxy's own `get_state` gives (a test
    holds the restored flow equal to the constructed one on each mitmproxy version).
    """
    message = object.__new__(message_type)
    message.data = object.__new__(data_type)
    message.set_state(state)
    return message


def _request_to_mitmproxy(request: Request, start: float, end: float) -> http.Request:
    """The request as `http.Request.make` would build it from the URL, without make's throwaway
    headers and body: this runs for every flow a mitmproxy expression is tried on."""
    scheme, host, port, path = url_parts(request)
    state = {
        "http_version": request.http_version.encode("utf-8", "surrogateescape"),
        "headers": _header_state(request.headers),
        "content": request.body.data,
        "trailers": None if request.trailers is None else _header_state(request.trailers),
        "timestamp_start": start,
        "timestamp_end": end,
        "host": host,
        "port": port,
        "method": request.method.encode("utf-8", "surrogateescape"),
        "scheme": scheme,
        "authority": b"",
        "path": path,
    }
    return _restored(http.Request, http.RequestData, state)


def _response_to_mitmproxy(response: Response, start: float, end: float) -> http.Response:
    state = {
        "http_version": response.http_version.encode("ascii", errors="replace"),
        "headers": _header_state(response.headers),
        "content": response.body.data,
        "trailers": None if response.trailers is None else _header_state(response.trailers),
        "timestamp_start": start,
        "timestamp_end": end,
        "status_code": response.status,
        "reason": response.reason.encode("utf-8"),
    }
    return _restored(http.Response, http.ResponseData, state)


def _phase_ends(record: FlowRecord) -> tuple[float, float, float, float]:
    """Request start and end, response start and end, spread by the timings where known."""
    start = record.started_at.timestamp()
    end = start + (record.duration_ms or 0) / 1000
    timings = record.timings or Timings()
    request_end = min(start + _seconds(timings.send), end) if end > start else start
    response_start = max(end - _seconds(timings.receive), request_end)
    return start, request_end, response_start, max(end, response_start)


LOOPBACK_ANY_PORT = ("127.0.0.1", 0)


def _client(record: FlowRecord, start: float) -> Client:
    peer = record.client or {}
    address = (str(peer.get("host") or "127.0.0.1"), int(peer.get("port") or 0))
    return Client(peername=address, sockname=LOOPBACK_ANY_PORT, timestamp_start=start)


def _server(record: FlowRecord) -> Server:
    server = Server(address=(record.request.host, record.request.port))
    ip = (record.server or {}).get("ip")
    if ip:
        server.peername = (str(ip), record.request.port)
    return server


def _mitmproxy_message(message: WebSocketMessage) -> MitmWebSocketMessage:
    kind = Opcode.TEXT if message.type == "text" else Opcode.BINARY
    return MitmWebSocketMessage(kind, message.from_client, message.content, message.timestamp)


def record_to_flow(
    record: FlowRecord, connections: tuple[Client, Server] | None = None
) -> http.HTTPFlow:
    """A finished, replayable mitmproxy flow from a record (raw bodies, headers in order).

    The flow is not live and not a replay, so mitmproxy's view can list it and its client
    replay accepts it; `metadata["mitmtape_id"]` ties it back to the record. `connections`
    stand in for the record's own client and server, for a test that reads neither.
    """
    start, request_end, response_start, end = _phase_ends(record)
    request = record.request
    client, server = connections or (_client(record, start), _server(record))
    flow = http.HTTPFlow(client, server)
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
    return RecordMatcher(matcher)


# mitmproxy's filter nodes that read a message's body (`~b`, `~bq`, `~bs`).
BODY_FILTERS = (flowfilter.FBod, flowfilter.FBodRequest, flowfilter.FBodResponse)
# mitmproxy's filter nodes known to read neither the client nor the server connection: an
# expression made of these only is tried on flows that share one stand-in pair (making the two
# connections was a third of each rebuild). `~src`, `~dst` and any node not named here (one a
# later mitmproxy adds) get each flow's own.
CONNECTION_FREE_FILTERS = (
    *BODY_FILTERS,
    flowfilter.FAnd,
    flowfilter.FOr,
    flowfilter.FNot,
    flowfilter.FAll,
    flowfilter.FAsset,
    flowfilter.FErr,
    flowfilter.FHTTP,
    flowfilter.FMarked,
    flowfilter.FReplay,
    flowfilter.FReplayClient,
    flowfilter.FReplayServer,
    flowfilter.FReq,
    flowfilter.FResp,
    flowfilter.FTCP,
    flowfilter.FUDP,
    flowfilter.FDNS,
    flowfilter.FWebSocket,
    flowfilter.FContentType,
    flowfilter.FContentTypeRequest,
    flowfilter.FContentTypeResponse,
    flowfilter.FDomain,
    flowfilter.FHead,
    flowfilter.FHeadRequest,
    flowfilter.FHeadResponse,
    flowfilter.FMethod,
    flowfilter.FUrl,
    flowfilter.FMeta,
    flowfilter.FMarker,
    flowfilter.FComment,
    flowfilter.FCode,
)


def filter_nodes(node: flowfilter.TFilter) -> Iterator[flowfilter.TFilter]:
    """Every node of a parsed filter's tree (`&`, `|`, `!`, groups), the root first."""
    yield node
    for child in getattr(node, "lst", ()):
        yield from filter_nodes(child)
    if hasattr(node, "itm"):
        yield from filter_nodes(node.itm)


def reads_bodies(node: flowfilter.TFilter) -> bool:
    """Whether a parsed filter looks at bodies anywhere in its tree."""
    return any(isinstance(each, BODY_FILTERS) for each in filter_nodes(node))


def reads_connections(node: flowfilter.TFilter) -> bool:
    """Whether a parsed filter may look at a flow's client or server connection."""
    return not all(isinstance(each, CONNECTION_FREE_FILTERS) for each in filter_nodes(node))


def stand_in_connections() -> tuple[Client, Server]:
    """A client and server for flows whose own no test reads."""
    return Client(peername=LOOPBACK_ANY_PORT, sockname=LOOPBACK_ANY_PORT), Server(address=None)


class RecordMatcher:
    """A compiled expression as a test on records; `needs_bodies` tells a reader (the store's
    paging) whether it may leave bodies unread."""

    def __init__(self, matcher: flowfilter.TFilter) -> None:
        self.matcher = matcher
        self.needs_bodies = reads_bodies(matcher)
        self.connections = None if reads_connections(matcher) else stand_in_connections()

    def __call__(self, record: FlowRecord) -> bool:
        return bool(self.matcher(record_to_flow(record, self.connections)))
