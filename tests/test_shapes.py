"""Endpoint folding (ids in paths become `{id}`, so captures of one app line up), typed path
parameters, and JSON shapes merged over samples."""

from __future__ import annotations

import gzip

import pytest

from mitmtape.model import Body
from mitmtape.shapes import (
    MAX_INTEGER_DIGITS,
    NOT_JSON,
    ShapeBuilder,
    field_types,
    fold_path,
    form_sample,
    json_value,
    merged_parameter_type,
    path_template,
    scalar_of,
)


@pytest.mark.parametrize(
    ("path", "folded"),
    [
        ("/users/42", "/users/{id}"),
        ("/users/97/orders/3", "/users/{id}/orders/{id}"),
        ("/items/550e8400-e29b-41d4-a716-446655440000", "/items/{id}"),
        ("/runs/01HWRFQP3K5M9TGWQX7ZABCDEF", "/runs/{id}"),
        ("/blobs/5f2b9c0a1d3e4f5a6b7c", "/blobs/{id}"),
        ("/v1/users", "/v1/users"),
        ("/api/v2/me", "/api/v2/me"),
        ("/", "/"),
    ],
)
def test_ids_fold_to_one_endpoint(path: str, folded: str) -> None:
    assert fold_path(path) == folded


@pytest.mark.parametrize(
    ("path", "template", "parameters"),
    [
        ("/users/42/orders/7", "/users/{id}/orders/{id2}", [("id", "integer"), ("id2", "integer")]),
        (
            "/items/550e8400-e29b-41d4-a716-446655440000",
            "/items/{id}",
            [("id", "uuid")],
        ),
        ("/runs/01HWRFQP3K5M9TGWQX7ZABCDEF/log", "/runs/{id}/log", [("id", "string")]),
        ("/v1/users", "/v1/users", []),
        ("/odd/{x}", "/odd/%7Bx%7D", []),
    ],
)
def test_path_templates_name_and_type_each_id(path: str, template: str, parameters) -> None:
    assert path_template(path) == (template, tuple(parameters))


def test_parameters_that_disagree_become_strings() -> None:
    assert merged_parameter_type("integer", "integer") == "integer"
    assert merged_parameter_type("integer", "uuid") == "string"


def merged(*samples: object) -> dict:
    builder = ShapeBuilder()
    for sample in samples:
        builder.add_object(sample)
    return builder.schema()


def test_schemas_merge_types_nesting_required_and_null() -> None:
    schema = merged(
        {"id": 1, "tags": ["a"], "owner": {"name": "x"}, "note": None},
        {"id": 2, "tags": [], "owner": {"name": "y", "age": 3}, "note": "hi", "extra": 1.5},
    )
    assert schema == {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name"],
            },
            "note": {"type": ["null", "string"]},
            "extra": {"type": "number"},
        },
        "required": ["id", "note", "owner", "tags"],
    }


@pytest.mark.parametrize(
    ("value", "format_name"),
    [
        ("2024-01-02T03:04:05Z", "date-time"),
        ("2024-01-02T03:04:05.123+02:00", "date-time"),
        ("550e8400-e29b-41d4-a716-446655440000", "uuid"),
        ("ada@example.com", "email"),
        ("https://example.com/a?b=1", "uri"),
        ("2024-01-02", None),
        ("plain words", None),
    ],
)
def test_string_formats_are_recognised(value: str, format_name: str | None) -> None:
    expected = {"type": "string"} | ({"format": format_name} if format_name else {})
    assert merged(value) == expected


def test_a_format_stays_only_when_every_sample_has_it() -> None:
    assert merged("a@b.co", "c@d.co") == {"type": "string", "format": "email"}
    assert merged("a@b.co", "not an email") == {"type": "string"}


def test_a_nullable_formatted_string_is_one_schema() -> None:
    assert merged("a@b.co", None) == {"type": ["string", "null"], "format": "email"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("9" * MAX_INTEGER_DIGITS, int("9" * MAX_INTEGER_DIGITS)),
        ("9" * (MAX_INTEGER_DIGITS + 1), "9" * (MAX_INTEGER_DIGITS + 1)),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ("", ""),
        ("abc", "abc"),
    ],
)
def test_query_and_form_values_are_typed_by_what_they_spell(text: str, value: object) -> None:
    assert scalar_of(text) == value and type(scalar_of(text)) is type(value)


def test_a_repeated_form_name_is_a_list() -> None:
    assert form_sample([("a", "1"), ("b", "x"), ("a", "2"), ("a", "3")]) == {
        "a": [1, 2, 3],
        "b": "x",
    }


def test_field_types_name_nested_fields_with_array_marks() -> None:
    schema = merged({"items": [{"price": 3, "sku": "a"}], "total": 3, "next": None})
    assert field_types(schema) == {
        "items": "array",
        "items[]": "object",
        "items[].price": "integer",
        "items[].sku": "string",
        "total": "integer",
        "next": "null",
    }
    assert field_types(merged([{"a": 1}])) == {"[]": "object", "[].a": "integer"}


@pytest.mark.parametrize(
    ("headers", "data", "value"),
    [
        ([("content-type", "application/json")], b'{"a": 1}', {"a": 1}),
        ([("content-type", "application/problem+json")], b"[1]", [1]),
        ([("content-type", "application/json"), ("content-encoding", "gzip")],
         gzip.compress(b'{"z": true}'), {"z": True}),
        ([("content-type", "text/html")], b"{}", NOT_JSON),
        ([("content-type", "application/json")], b"{not json", NOT_JSON),
        ([("content-type", "application/json")], b"", NOT_JSON),
    ],
)  # fmt: skip
def test_json_bodies_are_read_after_content_decoding(headers, data: bytes, value) -> None:
    assert json_value(Body(data), headers) == value
