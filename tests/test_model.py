from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from ulid import ULID

from mitmtape.model import (
    TIMESTAMP_TEXT_LAST,
    Body,
    FlowRecord,
    RecordFormatError,
    Request,
    format_time,
    is_text,
    new_id,
    parse_time,
    timestamp_text,
    ulid_text,
)


def test_json_round_trip_keeps_every_field(rich_record: FlowRecord) -> None:
    document = json.loads(json.dumps(rich_record.to_json()))
    again = FlowRecord.from_json(document)
    assert again == rich_record
    assert again.request.body.data == bytes(range(256))
    assert again.request.headers[-2:] == [("x-dup", "one"), ("x-dup", "two")]
    assert again.websocket is not None and again.websocket[1].content == b"\x00\xff\x10"


def test_json_form_has_spec_fields_and_body_encodings(rich_record: FlowRecord) -> None:
    document = rich_record.to_json()
    assert set(document) == {
        "id",
        "session_id",
        "started_at",
        "duration_ms",
        "source",
        "request",
        "response",
        "timings",
        "error",
        "tags",
        "metadata",
        "client",
        "server",
        "websocket",
    }
    assert document["request"]["body"]["encoding"] == "base64"
    assert document["request"]["body"]["size"] == 256
    assert document["response"]["body"] == {
        "encoding": "utf-8",
        "data": "héllo wörld ✓",
        "size": len("héllo wörld ✓".encode()),
    }
    assert document["request"]["headers"][0] == ["host", "api.example.com"]
    assert document["started_at"].endswith("Z") and "." in document["started_at"]


def test_request_derives_host_port_path_from_url() -> None:
    request = Request(method="GET", url="https://Example.com:8443/a/b?q=1")
    assert (request.host, request.port, request.path) == ("example.com", 8443, "/a/b")
    assert Request(method="GET", url="http://example.com").port == 80
    assert Request(method="GET", url="http://example.com").path == "/"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"request": {"method": "", "url": "http://x/"}}, "no method"),
        ({"request": {"method": "GET"}}, "no url"),
        ({"request": {"method": "GET", "url": "not a url"}}, "not absolute"),
        ({}, "no request"),
        ([], "must be an object"),
        ({"request": {"method": "GET", "url": "http://x/"}, "started_at": "yesterday"}, "RFC"),
        (
            {
                "request": {
                    "method": "GET",
                    "url": "http://x/",
                    "body": {"encoding": "base64", "data": "@@@"},
                }
            },
            "base64",
        ),
    ],
)
def test_from_json_names_the_problem(value: object, problem: str) -> None:
    with pytest.raises(RecordFormatError, match=problem):
        FlowRecord.from_json(value)


def test_from_json_fills_defaults() -> None:
    record = FlowRecord.from_json({"request": {"method": "GET", "url": "http://x.test/p?q"}})
    assert record.tags == [] and record.metadata == {}
    assert record.response is None and record.request.path == "/p"
    assert record.started_at.tzinfo is not None


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        ("text/html; charset=utf-8", b"<p>", True),
        ("application/json", b"{}", True),
        ("application/vnd.api+json", b"{}", True),
        ("application/atom+xml", b"<a/>", True),
        ("application/x-www-form-urlencoded", b"a=1", True),
        ("application/graphql", b"{ a }", True),
        ("application/octet-stream", b"abc", False),
        ("image/png", b"\x89PNG", False),
        ("text/plain", b"\xff\xfe", False),
        (None, b"abc", False),
    ],
)
def test_text_detection_follows_the_spec(content_type: str | None, data: bytes, expected: bool):
    assert is_text(content_type, data) is expected


def test_times_are_rfc3339_utc_with_microseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert format_time(moment) == "2026-01-02T03:04:05.000006Z"
    assert parse_time("2026-01-02T04:04:05.000006+01:00") == moment
    assert parse_time("2026-01-02T03:04:05Z") == moment.replace(microsecond=0)


def test_body_accepts_bare_string_and_null() -> None:
    assert Body.from_json("abc").data == b"abc"
    assert Body.from_json(None).data == b""


@pytest.mark.parametrize("reason", ["streamed", "too-large"])
def test_an_omitted_body_round_trips_its_reason_and_wire_size(reason: str) -> None:
    body = Body(b"", 200_000_000, reason)  # type: ignore[arg-type]
    document = body.to_json()
    assert document == {"encoding": "utf-8", "data": "", "size": 200_000_000, "omitted": reason}
    again = Body.from_json(document)
    assert (again.data, again.size, again.omitted) == (b"", 200_000_000, reason)


def test_a_kept_body_has_no_omitted_key() -> None:
    assert "omitted" not in Body(b"abc").to_json()
    assert Body.from_json({"encoding": "utf-8", "data": "abc", "size": 3}).omitted is None


def test_an_unknown_omitted_reason_is_refused_in_one_sentence() -> None:
    with pytest.raises(RecordFormatError, match="body omitted must be 'streamed' or 'too-large'"):
        Body.from_json({"data": "", "size": 5, "omitted": "lost"})


@pytest.mark.parametrize("size", [-1, 2**63, "12", True, 1.5])
def test_an_omitted_body_with_an_impossible_size_reads_as_size_unknown(size: object) -> None:
    assert Body.from_json({"data": "", "size": size, "omitted": "streamed"}).size == 0


def test_ulid_text_is_the_text_python_ulid_writes() -> None:
    rng = random.Random(16)
    edges = [bytes(16), b"\xff" * 16, b"\x80" + bytes(15), bytes(15) + b"\x01"]
    for raw in edges + [rng.randbytes(16) for _ in range(2000)]:
        assert ulid_text(raw) == str(ULID.from_bytes(raw))


def test_new_ids_are_ulids_in_creation_order() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    moments = [ULID.from_str(flow_id).milliseconds for flow_id in ids]
    assert moments == sorted(moments)
    assert all(str(ULID.from_str(flow_id)) == flow_id for flow_id in ids)


def _datetime_text(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def test_timestamp_text_is_format_time_of_the_datetime() -> None:
    rng = random.Random(1796)
    edges = [0, 0.0000005, 0.0000015, 0.9999995, 59.9999996, 1796284749.0, -1.25]
    # The last moment written here, the first one datetime writes, and a leap day.
    edges += [TIMESTAMP_TEXT_LAST - 0.00003, TIMESTAMP_TEXT_LAST, TIMESTAMP_TEXT_LAST + 0.5]
    edges += [951782400.0000005]
    moments = [rng.uniform(0, 4e9) for _ in range(20000)]
    # Exactly between two microseconds, where only half-to-even rounding agrees.
    moments += [round(rng.uniform(1e9, 2e9), 6) + 5e-7 for _ in range(20000)]
    for seconds in edges + moments:
        assert timestamp_text(seconds) == _datetime_text(seconds), seconds


def test_timestamp_text_past_year_9999_fails_as_datetime_does() -> None:
    for seconds in (TIMESTAMP_TEXT_LAST + 1 - 1e-7, TIMESTAMP_TEXT_LAST + 1, float("nan")):
        with pytest.raises((ValueError, OverflowError)):
            _datetime_text(seconds)
        with pytest.raises((ValueError, OverflowError)):
            timestamp_text(seconds)
