"""Postman Collection v2.1.0 export, checked against the official collection schema."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from mitmtape.export import postman

SCHEMA = json.loads((Path(__file__).parent / "postman-collection-v2.1.0.schema.json").read_text())
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def export(run_export, records, redact: bool = False) -> dict:
    return json.loads(run_export(postman.FORMAT, records, redact=redact))


def test_format_is_registered_as_postman() -> None:
    fmt = postman.FORMAT
    assert (fmt.name, fmt.label, fmt.suffix, fmt.media_type, fmt.needs_bodies) == (
        "postman",
        "Postman",
        "_postman_collection.json",
        "application/json",
        True,
    )


@pytest.mark.parametrize("redact", [False, True])
def test_collection_validates_against_the_v2_1_0_schema(varied_records, run_export, redact):
    jsonschema.validate(export(run_export, varied_records, redact), SCHEMA)


def test_empty_collection_validates(run_export) -> None:
    collection = export(run_export, [])
    assert collection["item"] == []
    jsonschema.validate(collection, SCHEMA)


def test_info_names_the_session_with_a_fresh_uuid(varied_records, run_export) -> None:
    first = export(run_export, varied_records)["info"]
    second = export(run_export, varied_records)["info"]
    assert first["name"] == "API Tests"
    assert first["schema"] == SCHEMA_URL
    assert uuid.UUID(first["_postman_id"]).version == 4
    assert first["_postman_id"] != second["_postman_id"]


def test_one_item_per_flow_named_method_and_path(varied_records, run_export) -> None:
    items = export(run_export, varied_records)["item"]
    assert [item["name"] for item in items] == [
        f"{r.request.method} {r.request.path}" for r in varied_records
    ]
    assert [item["request"]["url"] for item in items] == [r.request.url for r in varied_records]
    assert [item["request"]["method"] for item in items] == [
        r.request.method for r in varied_records
    ]


def test_host_length_and_connection_headers_are_left_out(record_kinds, run_export) -> None:
    request = export(run_export, [record_kinds["post_json"]])["item"][0]["request"]
    assert request["header"] == [{"key": "Content-Type", "value": "application/json"}]


def test_repeated_headers_stay_in_order(record_kinds, run_export) -> None:
    request = export(run_export, [record_kinds["repeated_headers"]])["item"][0]["request"]
    assert [(h["key"], h["value"]) for h in request["header"]] == [
        ("Accept", "text/html"),
        ("X-Trace", "1"),
        ("Accept", "application/xml"),
    ]


def test_json_bodies_are_raw_with_json_language(record_kinds, run_export) -> None:
    body = export(run_export, [record_kinds["non_ascii"]])["item"][0]["request"]["body"]
    assert body == {
        "mode": "raw",
        "raw": record_kinds["non_ascii"].request.body.data.decode(),
        "options": {"raw": {"language": "json"}},
    }


def test_other_text_bodies_are_raw_without_options(record_kinds, run_export) -> None:
    body = export(run_export, [record_kinds["form_post"]])["item"][0]["request"]["body"]
    assert body == {"mode": "raw", "raw": "user=alice&note=a+b%26c&empty="}


@pytest.mark.parametrize("kind", ["binary_image_response", "get_with_query"])
def test_binary_and_empty_bodies_are_left_out(record_kinds, run_export, kind: str) -> None:
    assert "body" not in export(run_export, [record_kinds[kind]])["item"][0]["request"]


def test_redaction_masks_credential_headers(secret_record, run_export) -> None:
    request = export(run_export, [secret_record], redact=True)["item"][0]["request"]
    headers = {(h["key"], h["value"]) for h in request["header"]}
    assert ("Authorization", "Bearer ***") in headers
    assert ("authorization", "Basic ***") in headers
    assert ("X-Auth-Token", "***") in headers
