"""mitmproxy `HTTPFlow` → `FlowRecord`: the only core module that reads mitmproxy objects.

Turning a flow into a record copies fields and nothing more (no I/O), because it runs on
mitmproxy's event loop; the writer thread does the rest.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from datetime import UTC, datetime

from mitmproxy import http
from mitmproxy.connection import Server
from mitmproxy.websocket import WebSocketMessage as MitmWebSocketMessage
from wsproto.frame_protocol import Opcode

from mitmtape.model import (
    UNKNOWN_TIME,
    Body,
    FlowRecord,
    Headers,
    Request,
    Response,
    Timings,
    WebSocketMessage,
)


def decode_header_bytes(raw: bytes) -> str:
    """Header bytes as text: UTF-8 where valid (what servers mean), else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def headers_of(headers: http.Headers | None) -> Headers:
    """Header lines in wire order, repeated names kept."""
    if headers is None:
        return []
    return [
        (decode_header_bytes(name), decode_header_bytes(value)) for name, value in headers.fields
    ]


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


def timings_of(flow: http.HTTPFlow, fresh_connection: bool) -> Timings:
    """Phases from mitmproxy's timestamps, as its own HAR export reads them.

    mitmproxy resolves and connects in one step, so DNS is 0 for an IP literal and unknown
    otherwise; `connect` includes the lookup. A reused connection has no connect or TLS time.
    """
    request, response, server = flow.request, flow.response, flow.server_conn
    timings = Timings(send=microseconds(request.timestamp_start, request.timestamp_end))
    if fresh_connection and server.timestamp_tcp_setup is not None:
        timings.connect = microseconds(server.timestamp_start, server.timestamp_tcp_setup)
        timings.ssl = microseconds(server.timestamp_tcp_setup, server.timestamp_tls_setup)
        if server.address and _is_ip_literal(str(server.address[0])):
            timings.dns = 0
    if response is not None:
        timings.wait = microseconds(request.timestamp_end, response.timestamp_start)
        timings.receive = microseconds(response.timestamp_start, response.timestamp_end)
    return timings


def _address(peer: tuple | None) -> dict[str, object] | None:
    if not peer:
        return None
    return {"host": str(peer[0]), "port": int(peer[1])}


def server_of(server: Server) -> dict[str, object] | None:
    if server.address is None and server.peername is None:
        return None
    host, port = server.address or server.peername or ("", 0)
    return {
        "host": str(host),
        "port": int(port),
        "ip": str(server.peername[0]) if server.peername else None,
        "sni": server.sni,
        "tls_version": server.tls_version,
        "alpn": server.alpn.decode("ascii", errors="replace") if server.alpn else None,
    }


def _websocket_message(message: MitmWebSocketMessage) -> WebSocketMessage:
    return WebSocketMessage(
        from_client=message.from_client,
        type="text" if message.type == Opcode.TEXT else "binary",
        timestamp=message.timestamp,
        content=message.content,
    )


def request_of(request: http.Request) -> Request:
    return Request(
        method=request.method,
        url=request.pretty_url,
        host=request.pretty_host,
        port=request.port,
        path=request.path.split("?", 1)[0] or "/",
        http_version=request.http_version,
        headers=headers_of(request.headers),
        body=Body(request.raw_content or b""),
        trailers=headers_of(request.trailers) if request.trailers is not None else None,
    )


def response_of(response: http.Response | None) -> Response | None:
    if response is None:
        return None
    return Response(
        status=response.status_code,
        reason=response.reason,
        http_version=response.http_version,
        headers=headers_of(response.headers),
        body=Body(response.raw_content or b""),
        trailers=headers_of(response.trailers) if response.trailers is not None else None,
    )


def metadata_of(flow: http.HTTPFlow) -> dict[str, object]:
    metadata: dict[str, object] = {}
    if flow.comment:
        metadata["comment"] = flow.comment
    if flow.marked:
        metadata["marker"] = flow.marked
    return metadata


def flow_to_record(
    flow: http.HTTPFlow, session_id: str, seen_servers: Collection[str] = ()
) -> FlowRecord:
    """One record of a finished (or failed) flow.

    `seen_servers` holds ids of server connections that earlier flows already used, so a reused
    connection is not charged a second connect and TLS time.
    """
    request = flow.request
    end = flow.response.timestamp_end if flow.response else None
    duration_ms = None
    if end is not None:
        duration_ms = round((end - request.timestamp_start) * 1000, 3)
    fresh = flow.server_conn.id not in seen_servers
    return FlowRecord(
        session_id=session_id,
        started_at=datetime.fromtimestamp(request.timestamp_start, UTC),
        duration_ms=duration_ms,
        source="replay" if flow.is_replay else "proxy",
        request=request_of(request),
        response=response_of(flow.response),
        timings=timings_of(flow, fresh),
        error=flow.error.msg if flow.error else None,
        metadata=metadata_of(flow),
        client=_address(flow.client_conn.peername),
        server=server_of(flow.server_conn),
        websocket=None
        if flow.websocket is None
        else [_websocket_message(m) for m in flow.websocket.messages],
    )
