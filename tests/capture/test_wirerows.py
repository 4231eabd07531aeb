"""The writer's way from a wire snapshot to a row makes the row the record path makes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from mitmtape.capture.record import snapshot_from_wire, snapshot_of
from mitmtape.capture.wirerows import PendingFlow, pending_of_record, pending_of_wire
from mitmtape.store import Store
from mitmtape.store.rows import summary_of

Change = Callable[[http.HTTPFlow], object]


def _set(target: str, **values: object) -> Change:
    def change(flow: http.HTTPFlow) -> None:
        for name, value in values.items():
            setattr(getattr(flow, target), name, value)

    return change


def _headers(target: str, *fields: tuple[bytes, bytes]) -> Change:
    def change(flow: http.HTTPFlow) -> None:
        getattr(flow, target).headers.fields += fields

    return change


def _streamed(flow: http.HTTPFlow) -> None:
    flow.response.stream = True
    flow.response.data.content = None
    flow.response.headers["content-length"] = "123456789"


def _websocket(flow: http.HTTPFlow) -> None:
    other = tflow.twebsocketflow()
    flow.websocket = other.websocket


def _no_times(flow: http.HTTPFlow) -> None:
    flow.response.timestamp_end = None
    flow.server_conn.timestamp_tls_setup = None
    flow.request.timestamp_start = None


def _annotated(flow: http.HTTPFlow) -> None:
    flow.comment, flow.marked, flow.is_replay = "look", ":star:", "request"


def _without_peers(flow: http.HTTPFlow) -> None:
    flow.client_conn.peername = None
    flow.server_conn.address = flow.server_conn.peername = None


CHANGES: dict[str, Change] = {
    "plain": lambda flow: None,
    "no-response": lambda flow: setattr(flow, "response", None),
    "error": lambda flow: setattr(flow, "error", tflow.terr()),
    "h2-authority": _set("request", http_version="HTTP/2.0", authority="h2.example:444"),
    "connect": _set("request", method="CONNECT", authority="tunnel.example:443", path=""),
    "lower-case-method": _set("request", method="post"),
    "asterisk": _set("request", method="OPTIONS", path="*"),
    "upper-case-host": _headers("request", (b"Host", b"API.Example.COM:8080")),
    "repeated-host": _headers("request", (b"Host", b"one.example"), (b"host", b"two.example")),
    "query": _set("request", path="/items?page=2&q=%20"),
    "latin1-headers": _headers("response", (b"x-raw", b"caf\xe9")),
    "binary-bodies": _set("request", content=bytes(range(256))),
    "empty-response-body": _set("response", content=b""),
    "streamed-response": _streamed,
    "content-type-parameters": _headers("response", (b"Content-Type", b"Text/HTML; q=1")),
    "trailers": lambda flow: setattr(flow.response, "trailers", http.Headers(grpc_status="0")),
    "request-trailers": lambda flow: setattr(flow.request, "trailers", http.Headers(x="1")),
    "websocket": _websocket,
    "unknown-times": _no_times,
    "comment-marker-replay": _annotated,
    "no-peers": _without_peers,
    "ipv6-server": _set("server_conn", address=("::1", 443), peername=("::1", 443, 0, 0)),
    "reason": _set("response", reason=b"Fine \xe9"),
    "transparent-ip": _set("request", host="10.0.0.7", port=8443, host_header=None),
    "port-zero": _set("request", port=0),
}


def _both_ways(change: Change, fresh: bool = True) -> tuple[PendingFlow, PendingFlow]:
    flow = tflow.tflow(resp=True)
    change(flow)
    wire = snapshot_of(flow, fresh, max_body_size=1_000_000)
    direct = pending_of_wire("S", wire)
    record = snapshot_from_wire(wire).to_record("S")
    record.id = direct.row[0]
    return direct, pending_of_record(record)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_wire_snapshot_makes_the_row_its_record_makes(change: Change) -> None:
    direct, through_record = _both_ways(change)
    assert direct == through_record


def test_a_reused_connection_and_an_omitted_body_make_the_same_row_too() -> None:
    def large(flow: http.HTTPFlow) -> None:
        flow.response.content = b"r" * 1_000_001

    direct, through_record = _both_ways(large, fresh=False)
    assert direct == through_record
    assert [part for _, part, _ in direct.bodies] == ["request"]  # the response's was not kept
    assert direct.row[11] == 1_000_001


def test_each_row_gets_a_flow_id_of_its_own() -> None:
    wire = snapshot_of(tflow.tflow(resp=True), True)
    first, second = pending_of_wire("S", wire), pending_of_wire("S", wire)
    assert first.row[0] != second.row[0]
    assert {body[0] for body in first.bodies} == {first.row[0]}


def test_a_listing_says_what_the_records_summary_says(store: Store) -> None:
    session = store.active_session().id
    flow = tflow.tflow(resp=True)
    flow.request.headers["host"] = "API.Example.com"
    pending = pending_of_wire(session, snapshot_of(flow, True))
    store.add_rows(([pending.row], pending.bodies))
    record = store.get_flow(pending.row[0])
    assert summary_of(pending.listing) == {"session_id": session, **record.summary()}
    assert summary_of(pending.listing)["host"] == "API.Example.com"
