"""Records rebuilt as mitmproxy flows: listed in mitmproxy's view and accepted for replay."""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime

import pytest
from mitmproxy import http, io
from mitmproxy.addons.clientplayback import ClientPlayback
from mitmproxy.addons.view import View
from mitmproxy.test import taddons

from mitmtape.capture.record import compile_expression, flow_to_record, record_to_flow
from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.importers import import_new_session
from mitmtape.model import Body, FlowRecord, Request, Response, Timings, WebSocketMessage

START = datetime(2026, 3, 8, 14, 30, 22, 500000, tzinfo=UTC)


def record(**fields) -> FlowRecord:
    values = dict(
        request=Request(
            method="POST",
            url="https://api.test:8443/v1/cart?id=7",
            http_version="HTTP/1.1",
            headers=[("Content-Type", "application/json"), ("X-A", "1"), ("X-A", "2")],
            body=Body(b'{"qty": 2}'),
        ),
        started_at=START,
        duration_ms=250.0,
        response=Response(
            status=201,
            reason="Created",
            headers=[("Content-Encoding", "gzip"), ("Content-Type", "text/plain")],
            body=Body(gzip.compress(b"created")),
        ),
        timings=Timings(send=10_000, wait=200_000, receive=40_000),
        metadata={"comment": "from a HAR", "marker": ":star:"},
        server={"host": "api.test", "port": 8443, "ip": "10.1.2.3"},
    )
    values.update(fields)
    return FlowRecord(**values)


def test_request_and_response_are_rebuilt_with_raw_bodies_and_ordered_headers():
    flow = record_to_flow(record())
    assert flow.request.url == "https://api.test:8443/v1/cart?id=7"
    assert flow.request.method == "POST"
    assert flow.request.headers.fields == (
        (b"Content-Type", b"application/json"),
        (b"X-A", b"1"),
        (b"X-A", b"2"),
    )
    assert flow.request.content == b'{"qty": 2}'
    assert flow.response.status_code == 201
    assert flow.response.reason == "Created"
    assert flow.response.raw_content == gzip.compress(b"created")
    assert flow.response.content == b"created"
    assert flow.server_conn.address == ("api.test", 8443)
    assert flow.comment == "from a HAR"
    assert flow.marked == ":star:"
    assert flow.is_replay is None
    assert not flow.live


def test_timestamps_follow_start_duration_and_timings():
    flow = record_to_flow(record())
    start = START.timestamp()
    assert flow.request.timestamp_start == start
    assert flow.request.timestamp_end == start + 0.01
    assert flow.response.timestamp_start == start + 0.25 - 0.04
    assert flow.response.timestamp_end == start + 0.25


def test_failed_flow_has_its_error_and_no_response():
    flow = record_to_flow(record(response=None, duration_ms=None, error="connection refused"))
    assert flow.response is None
    assert flow.error.msg == "connection refused"


def test_websocket_messages_are_rebuilt():
    messages = [
        WebSocketMessage(True, "text", 1.0, b"hi"),
        WebSocketMessage(False, "binary", 2.0, b"\x00\xff"),
    ]
    flow = record_to_flow(record(websocket=messages))
    assert [(m.from_client, m.is_text, m.content) for m in flow.websocket.messages] == [
        (True, True, b"hi"),
        (False, False, b"\x00\xff"),
    ]


def test_flow_goes_into_the_view_and_can_be_replayed():
    flow = record_to_flow(record())
    view, playback = View(), ClientPlayback()
    with taddons.context(view, playback):
        view.add([flow])
        assert len(view) == 1
        assert playback.check(flow) is None


def test_rebuilt_flow_survives_mitmproxy_state_and_back_to_a_record():
    original = record()
    flow = http.HTTPFlow.from_state(record_to_flow(original).get_state())
    again = flow_to_record(flow, "s")
    assert again.request.url == original.request.url
    assert again.request.headers == original.request.headers
    assert again.response.body.data == original.response.body.data
    assert again.started_at == START
    assert again.duration_ms == 250.0
    assert again.metadata == {"comment": "from a HAR", "marker": ":star:"}


def test_imported_sample_flows_all_rebuild(store, samples):
    session, _ = import_new_session(store, samples / "mitmproxy-savehar.har")
    flows = [record_to_flow(r) for batch in store.iter_flow_batches(session.id) for r in batch]
    view = View()
    with taddons.context(view):
        view.add(flows)
        assert len(view) == 10
    assert {f.request.pretty_url.rsplit("/", 1)[-1] for f in flows} >= {"pixel.png", "gzip", "ws"}


REBUILT_KINDS = {
    "request and response": record(),
    "no response": record(response=None, duration_ms=None, error="connection refused"),
    "trailers, HTTP/2": record(
        request=Request(
            method="GET",
            url="https://api.test/grpc",
            http_version="HTTP/2.0",
            headers=[("te", "trailers")],
            trailers=[("grpc-timeout", "1S")],
        ),
        response=Response(status=200, http_version="HTTP/2.0", trailers=[("grpc-status", "0")]),
    ),
    "non-ASCII": record(
        request=Request(
            method="PUT",
            url="http://xn--bcher-kva.test/%C3%A4?q=%C3%BC",
            headers=[("X-Name", "Jürgen")],
            body=Body(b"\xff\xfe"),
        ),
        response=Response(status=404, reason="Nicht gefunden", headers=[("X-Ö", "ü")]),
    ),
    "an IRI": record(request=Request(method="GET", url="https://bücher.test/ä?q=ü")),
}


@pytest.mark.parametrize("kind", REBUILT_KINDS)
def test_rebuilt_messages_are_what_mitmproxys_checked_constructors_make(kind):
    # Messages are restored from their state, skipping the constructors' type check: each
    # must hold exactly its data class's fields, with the types that check accepts unchanged.
    flow = record_to_flow(REBUILT_KINDS[kind])
    messages = [(flow.request, http.RequestData)]
    if flow.response is not None:
        messages.append((flow.response, http.ResponseData))
    for message, data_type in messages:
        assert vars(message.data).keys() == {f.name for f in dataclasses.fields(data_type)}
        checked = type(message).from_state(message.get_state())  # runs the type check
        assert checked.get_state() == message.get_state()
        assert checked.data == message.data


def test_imported_flows_rebuild_as_mitmproxys_checked_constructors_make(store, samples):
    for sample in ("chromium-playwright.har", "mitmproxy-flows.mitm"):
        session, _ = import_new_session(store, samples / sample)
        for batch in store.iter_flow_batches(session.id):
            for rebuilt in map(record_to_flow, batch):
                checked = http.HTTPFlow.from_state(rebuilt.get_state())
                assert checked.get_state() == rebuilt.get_state()


@pytest.mark.parametrize(
    ("recorded", "host", "port", "path", "rebuilt"),
    [
        (
            "https://bücher.test/ä?q=ü#teil",
            "bücher.test",
            443,
            "/ä?q=ü#teil",
            "https://bücher.test/ä?q=ü#teil",
        ),
        ("HTTP://Bücher.test:8080", "bücher.test", 8080, "/", "http://bücher.test:8080/"),
        (
            "https://api.test/v1/people/ñandú?q=%E2%9C%93",
            "api.test",
            443,
            "/v1/people/ñandú?q=%E2%9C%93",
            "https://api.test/v1/people/ñandú?q=%E2%9C%93",
        ),
        # a host mitmproxy finds invalid
        ("http://exa mple.test:81/x", "exa mple.test", 81, "/x", "http://exa mple.test:81/x"),
        # a tab in the host, which urlsplit drops: the path comes from its parts
        ("https://bü\tcher.test/ä?q=1", "bücher.test", 443, "/ä?q=1", "https://bücher.test/ä?q=1"),
    ],
)
def test_a_url_mitmproxys_parser_refuses_rebuilds_from_the_record(
    recorded, host, port, path, rebuilt
):
    flow = record_to_flow(record(request=Request(method="GET", url=recorded)))
    assert (flow.request.host, flow.request.port, flow.request.path) == (host, port, path)
    assert flow.request.url == rebuilt


def test_an_iri_from_a_har_is_matched_by_expressions_and_exported_as_a_flow_file(store, tmp_path):
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "a tool writing IRIs", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-03-08T14:30:22.500Z",
                    "time": 5,
                    "request": {"method": "GET", "url": "https://bücher.test/ä?q=ü", "headers": []},
                    "response": {"status": 200, "statusText": "OK", "headers": [], "content": {}},
                }
            ],
        }
    }
    path = tmp_path / "iri.har"
    path.write_text(json.dumps(har, ensure_ascii=False), encoding="utf-8")
    session, _ = import_new_session(store, path)
    page = store.page_flows(session.id, matches=compile_expression("~u bücher & ~m GET"))
    assert [r.request.url for r in page.records] == ["https://bücher.test/ä?q=ü"]
    options = ExportOptions(matches=compile_expression("~u bücher"), keep_artifact=False)
    written = export_session(store, session.id, "mitm", tmp_path, options)
    with open(written.path, "rb") as back:
        (read,) = io.FlowReader(back).stream()
    assert read.request.url == "https://bücher.test/ä?q=ü"
