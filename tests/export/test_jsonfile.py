"""mitmtape JSON export: a 2-space-indented array of lossless flow records, oldest first."""

from __future__ import annotations

import json

from mitmtape.export import jsonfile
from mitmtape.model import FlowRecord

# Spec section 1: every field of a flow record and the JSON types it may take.
FIELD_TYPES = {
    "id": (str,),
    "session_id": (str,),
    "started_at": (str,),
    "duration_ms": (float, int, type(None)),
    "source": (str,),
    "request": (dict,),
    "response": (dict, type(None)),
    "timings": (dict, type(None)),
    "error": (str, type(None)),
    "tags": (list,),
    "metadata": (dict,),
    "client": (dict, type(None)),
    "server": (dict, type(None)),
    "websocket": (list, type(None)),
}
REQUEST_FIELDS = {"method", "url", "host", "port", "path", "http_version", "headers", "body"}
RESPONSE_FIELDS = {"status", "reason", "http_version", "headers", "body"}


def test_format_is_registered_as_json() -> None:
    fmt = jsonfile.FORMAT
    assert (fmt.name, fmt.suffix, fmt.media_type, fmt.needs_bodies) == (
        "json",
        ".json",
        "application/json",
        True,
    )


def test_output_is_exactly_a_two_space_indented_array(varied_records, run_export) -> None:
    text = run_export(jsonfile.FORMAT, varied_records)
    expected = [record.to_json() for record in varied_records]
    assert text == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


def test_no_records_is_an_empty_array(run_export) -> None:
    assert run_export(jsonfile.FORMAT, []) == "[]\n"


def test_every_record_field_is_present_with_its_type(varied_records, run_export) -> None:
    items = json.loads(run_export(jsonfile.FORMAT, varied_records))
    assert [item["id"] for item in items] == [record.id for record in varied_records]
    for item in items:
        assert set(item) == set(FIELD_TYPES)
        for name, types in FIELD_TYPES.items():
            assert isinstance(item[name], types), name
        assert set(item["request"]) >= REQUEST_FIELDS
        assert set(item["request"]["body"]) == {"encoding", "data", "size"}
        if item["response"] is not None:
            assert set(item["response"]) >= RESPONSE_FIELDS
            assert isinstance(item["response"]["status"], int)


def test_every_item_reads_back_into_an_equal_record(varied_records, run_export) -> None:
    items = json.loads(run_export(jsonfile.FORMAT, varied_records))
    assert [FlowRecord.from_json(item) for item in items] == varied_records


def test_redaction_masks_headers_and_keeps_the_rest(secret_record, run_export) -> None:
    item = json.loads(run_export(jsonfile.FORMAT, [secret_record], redact=True))[0]
    assert ["Authorization", "Bearer ***"] in item["request"]["headers"]
    assert ["Cookie", "session=***; csrf=***"] in item["request"]["headers"]
    assert item["request"]["body"] == secret_record.request.body.to_json()
    assert item["id"] == secret_record.id
