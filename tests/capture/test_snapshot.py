"""The snapshot's values as the record has them (capture/snapshot.py): header bytes decoded,
and timings in microseconds from mitmproxy's timestamps, unknown where a phase did not happen."""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.test import tflow

from mitmtape.capture.record import flow_to_record, snapshot_from_wire, snapshot_of
from mitmtape.capture.snapshot import timings
from mitmtape.model import Timings


def timings_of(flow: http.HTTPFlow, fresh_connection: bool) -> Timings:
    return timings(snapshot_from_wire(snapshot_of(flow, fresh_connection)))


def test_non_utf8_header_bytes_survive_as_latin1() -> None:
    flow = tflow.tflow(resp=True)
    flow.request.headers.fields = ((b"x-raw", b"caf\xe9"), (b"x-utf8", "café".encode()))
    headers = flow_to_record(flow, "S").request.headers
    assert headers == [("x-raw", "café"), ("x-utf8", "café")]


def test_timings_in_microseconds_from_mitmproxy_timestamps() -> None:
    flow = tflow.tflow(resp=True)
    server, request, response = flow.server_conn, flow.request, flow.response
    server.timestamp_start, server.timestamp_tcp_setup, server.timestamp_tls_setup = (
        10.0,
        10.5,
        10.75,
    )
    request.timestamp_start, request.timestamp_end = 9.0, 11.0
    response.timestamp_start, response.timestamp_end = 11.25, 11.5
    timings = timings_of(flow, fresh_connection=True)
    assert timings.to_json() == {
        "dns": -1,  # the server address is a name: mitmproxy's connect includes the lookup
        "connect": 500_000,
        "ssl": 250_000,
        "send": 2_000_000,
        "wait": 250_000,
        "receive": 250_000,
    }
    server.address = ("10.1.2.3", 443)
    assert timings_of(flow, fresh_connection=True).dns == 0


def test_reused_connection_has_no_connect_or_ssl_time() -> None:
    flow = tflow.tflow(resp=True)
    first = flow_to_record(flow, "S")
    second = flow_to_record(flow, "S", seen_servers={flow.server_conn.id})
    assert first.timings is not None and first.timings.connect > 0 and first.timings.ssl > 0
    assert second.timings is not None
    assert (second.timings.connect, second.timings.ssl, second.timings.dns) == (-1, -1, -1)
    assert second.timings.send == first.timings.send


def test_plain_http_has_no_ssl_time_and_missing_ends_are_unknown() -> None:
    flow = tflow.tflow(resp=True)
    flow.server_conn.timestamp_tls_setup = None
    flow.response.timestamp_end = None
    timings = timings_of(flow, fresh_connection=True)
    assert timings.ssl == -1 and timings.receive == -1 and timings.connect >= 0
