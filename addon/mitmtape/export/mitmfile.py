"""mitmproxy's own flow file (`--format mitm`): what `mitmproxy -r`, `mitmdump -nr`,
`--server-replay` and `--client-replay` read.

Each record becomes the `HTTPFlow` that `record_to_flow` rebuilds, with the server connection
given back what the record knows of it (TLS version, SNI, ALPN, connect and TLS times), and
is written by mitmproxy's own `FlowWriter`, so the file is exactly what `mitmdump -w` writes.
Tags and mitmtape's metadata, which a mitmproxy flow has no field for, ride in its metadata,
where the flow-file import finds them again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.model import FlowRecord

if TYPE_CHECKING:
    from mitmproxy import http

# What mitmproxy's own fields already hold, so it is not kept twice.
HELD_BY_MITMPROXY = ("comment", "marker")
SECURE_SCHEMES = ("https", "wss")
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mitmtape/flow")


def flow_of(record: FlowRecord) -> http.HTTPFlow:
    """The flow mitmproxy would have saved for this record."""
    from mitmtape.capture.record import KEPT_KEY, record_to_flow  # see `write`

    flow = record_to_flow(record)
    _restore_server(flow, record)
    # Ids made from the record's, so the same session exports to the same bytes every time.
    flow.id = str(uuid.uuid5(ID_NAMESPACE, record.id))
    flow.client_conn.id = str(uuid.uuid5(ID_NAMESPACE, f"{record.id}/client"))
    flow.server_conn.id = str(uuid.uuid5(ID_NAMESPACE, f"{record.id}/server"))
    flow.timestamp_created = flow.request.timestamp_start
    # A body not recorded is written as mitmproxy saves a streamed one: no content at all.
    if record.request.body.omitted is not None:
        flow.request.raw_content = None
    if flow.response is not None and record.response and record.response.body.omitted:
        flow.response.raw_content = None
    kept = {k: v for k, v in record.metadata.items() if k not in HELD_BY_MITMPROXY}
    if record.tags or kept:
        flow.metadata[KEPT_KEY] = {"tags": list(record.tags), "metadata": kept}
    return flow


def _restore_server(flow: http.HTTPFlow, record: FlowRecord) -> None:
    """TLS details and the connect and TLS phases, as the capture read them from mitmproxy.

    A phase the record does not know (-1: a reused connection) leaves its timestamp unset,
    which is how mitmproxy says the same.
    """
    server, info = flow.server_conn, record.server or {}
    if info.get("host") and info.get("port"):
        server.address = (str(info["host"]), int(info["port"]))
    server.tls = flow.request.scheme in SECURE_SCHEMES
    server.sni = info.get("sni")
    server.tls_version = info.get("tls_version")
    alpn = info.get("alpn")
    server.alpn = alpn.encode("ascii") if isinstance(alpn, str) else None
    timings = record.timings
    if timings is None:
        return
    if flow.response is None and timings.send >= 0:  # a failed flow: its request still took time
        flow.request.timestamp_end = flow.request.timestamp_start + timings.send / 1_000_000
    if timings.connect < 0:
        return
    server.timestamp_start = flow.request.timestamp_start
    server.timestamp_tcp_setup = server.timestamp_start + timings.connect / 1_000_000
    if timings.ssl >= 0:
        server.timestamp_tls_setup = server.timestamp_tcp_setup + timings.ssl / 1_000_000


def write(out: BinaryIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    # mitmproxy's flow types and writer load ~100 ms of modules: only for this format, not for
    # every export that loads the registry.
    from mitmproxy import io as mitmproxy_io

    writer = mitmproxy_io.FlowWriter(out)
    for record in records:
        writer.add(flow_of(record))


FORMAT = ExportFormat(
    name="mitm",
    suffix=".mitm",
    media_type="application/octet-stream",
    needs_bodies=True,
    write=write,  # type: ignore[arg-type]  # a byte stream: `binary`
    binary=True,
)
