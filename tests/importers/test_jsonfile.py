"""mitmtape JSON import (formats.md, "JSON import"): sniffing, per-flow rules, the 50,000 cap."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mitmtape.importers import JSON_IMPORT_CAP, ImportFailed, import_file
from mitmtape.model import (
    Body,
    FlowRecord,
    Request,
    Response,
    Timings,
    WebSocketMessage,
)

MINIMAL = '{"request":{"method":"GET","url":"http://a.test/"}}'


def full_record() -> FlowRecord:
    return FlowRecord(
        request=Request(
            method="POST",
            url="https://api.test/v1/cart?x=1",
            http_version="HTTP/2.0",
            headers=[("Content-Type", "application/octet-stream"), ("X-A", "1"), ("X-A", "2")],
            body=Body(b"\x00\x01binary\xff"),
        ),
        session_id="old-session",
        started_at=datetime(2026, 3, 8, 14, 30, 22, 123456, tzinfo=UTC),
        duration_ms=12.5,
        source="proxy",
        response=Response(status=201, reason="Created", headers=[("A", "b")], body=Body(b"ok")),
        timings=Timings(dns=0, connect=100, ssl=-1, send=5, wait=900, receive=30),
        error=None,
        tags=["api", "slow"],
        metadata={"comment": "c", "marker": ":star:"},
        client={"host": "127.0.0.1", "port": 5000},
        server={"host": "api.test", "port": 443, "ip": "10.0.0.1"},
        websocket=[WebSocketMessage(True, "text", 1.5, b"hi")],
    )


def test_round_trip_keeps_everything_but_id_session_and_source(
    store, session_id, json_file, records
):
    original = full_record()
    result = import_file(store, json_file([original.to_json()]), session_id)
    assert (result.imported, result.skipped) == (1, 0)
    (record,) = records(session_id)
    expected = original.to_json()
    got = record.to_json()
    assert got["id"] != expected["id"]
    assert got["session_id"] == session_id
    assert got["source"] == "import"
    assert got["metadata"] == {**expected["metadata"], "import_source": "json"}
    for key in ("id", "session_id", "source", "metadata"):
        got.pop(key), expected.pop(key)
    assert got == expected


def test_missing_host_path_time_tags_and_metadata_are_filled(store, session_id, json_file, records):
    before = datetime.now(UTC)
    import_file(store, json_file([json.loads(MINIMAL)]), session_id)
    (record,) = records(session_id)
    assert (record.request.host, record.request.path, record.request.port) == ("a.test", "/", 80)
    assert before <= record.started_at <= datetime.now(UTC)
    assert record.tags == []
    assert record.metadata == {"import_source": "json"}


@pytest.mark.parametrize(
    ("flow", "reason"),
    [
        ({"request": {"url": "http://a.test/"}}, "no method"),
        ({"request": {"method": " ", "url": "http://a.test/"}}, "no method"),
        ({"request": {"method": "GET"}}, "no url"),
        ({"request": {"method": "GET", "url": "a.test/x"}}, "not absolute"),
        ({"request": {"method": "GET", "url": "http://a.test:65536/"}}, "invalid port"),
        ({"request": {"method": "GET", "url": "http://a.test:8o/"}}, "invalid port"),
        ({"request": None}, "no request"),
        ({}, "no request"),
        ("a string", "must be an object"),
        ({"request": {"method": "GET", "url": "http://a/"}, "duration_ms": "slow"}, "slow"),
        ({"request": {"method": "GET", "url": "http://a/"}, "started_at": "soon"}, "started_at"),
    ],
)
def test_invalid_flows_are_skipped_and_reported(store, session_id, json_file, flow, reason):
    result = import_file(store, json_file([json.loads(MINIMAL), flow]), session_id)
    assert (result.imported, result.skipped) == (1, 1)
    assert result.errors[0].startswith("entry 1: ")
    assert reason in result.errors[0]


def test_flows_read_back_share_their_equal_header_pairs(store, session_id, json_file, records):
    flows = [
        {"request": {"method": "GET", "url": "http://a.test/", "headers": [["A", "*"], ["N", n]]}}
        for n in "012"
    ]
    import_file(store, json_file(flows), session_id)
    read = [record.request.headers for record in records(session_id)]
    assert read[0][0] is read[1][0] is read[2][0] == ("A", "*")
    assert [headers[1] for headers in read] == [("N", "0"), ("N", "1"), ("N", "2")]


def test_har_given_to_the_json_import_is_refused_with_a_hint(store, session_id, text_file):
    path = text_file("capture.json", '{"log": {"version": "1.2", "entries": []}}')
    with pytest.raises(
        ImportFailed, match=r"capture\.json: this looks like a HAR file — use the HAR"
    ):
        import_file(store, path, session_id, format="json")


@pytest.mark.parametrize("content", ['{"log": null, "x": 1}', '{"flows": []}'])
def test_other_objects_are_refused_as_not_an_array(store, session_id, text_file, content):
    with pytest.raises(ImportFailed, match=r"expected an array of flow objects \(starts with \[\)"):
        import_file(store, text_file("o.json", content), session_id, format="json")


@pytest.mark.parametrize("content", ["42", '"text"', "not json", "\x00\x01"])
def test_anything_else_is_an_invalid_format(store, session_id, text_file, content):
    with pytest.raises(ImportFailed, match=r"o\.json: invalid format"):
        import_file(store, text_file("o.json", content), session_id, format="json")


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_empty_file_is_an_error(store, session_id, text_file, content):
    with pytest.raises(ImportFailed, match=r"e\.json: the file is empty"):
        import_file(store, text_file("e.json", content), session_id, format="json")


def test_truncated_array_is_an_error_and_the_session_keeps_nothing_partial(
    store, session_id, text_file
):
    with pytest.raises(ImportFailed, match=r"t\.json: not valid JSON"):
        import_file(store, text_file("t.json", f"[{MINIMAL},{MINIMAL[:30]}"), session_id)
    assert store.count_flows(session_id) == 0


def flows_file(text_file, count: int):
    return text_file("many.json", "[" + ",".join([MINIMAL] * count) + "]")


def test_exactly_50000_flows_all_come_in(store, session_id, text_file):
    result = import_file(store, flows_file(text_file, JSON_IMPORT_CAP), session_id)
    assert (result.imported, result.skipped, result.errors) == (JSON_IMPORT_CAP, 0, [])
    assert store.count_flows(session_id) == JSON_IMPORT_CAP


def test_the_50001st_flow_is_left_out_and_reported(store, session_id, text_file):
    result = import_file(store, flows_file(text_file, JSON_IMPORT_CAP + 1), session_id)
    assert (result.imported, result.skipped) == (JSON_IMPORT_CAP, 1)
    assert result.errors == [
        "entries 50000 and later: not imported, at most 50,000 flows per JSON file (1 left out)"
    ]
    assert store.count_flows(session_id) == JSON_IMPORT_CAP


def test_cap_message_survives_a_full_error_list(store, session_id, text_file):
    bad = '{"request":{"url":"http://a/"}}'
    path = text_file(
        "bad.json", "[" + ",".join([bad] * 150 + [MINIMAL] * (JSON_IMPORT_CAP - 148)) + "]"
    )
    result = import_file(store, path, session_id)
    assert (result.imported, result.skipped) == (JSON_IMPORT_CAP - 150, 152)
    assert len(result.errors) == 100
    assert result.errors[-1].endswith("(2 left out)")
