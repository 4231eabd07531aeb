"""Redaction: which header values are masked, how, and that the record handed in is untouched."""

from __future__ import annotations

import pytest

from mitmtape.export.redact import redact_headers, redact_record
from mitmtape.model import FlowRecord


@pytest.mark.parametrize(
    "name",
    ["Authorization", "proxy-authorization", "COOKIE", "Set-Cookie", "X-Api-Key", "x-auth-token"],
)
def test_every_credential_header_is_masked_whatever_its_case(name: str) -> None:
    assert redact_headers([(name, "hunter2")]) == [(name, "***")]


@pytest.mark.parametrize("value", ["Bearer abc.def.ghi", "bearer abc", "BEARER   abc"])
def test_bearer_tokens_keep_their_scheme(value: str) -> None:
    assert redact_headers([("Authorization", value)]) == [("Authorization", "Bearer ***")]


def test_other_schemes_and_bare_words_become_stars() -> None:
    headers = [("Authorization", "Basic dXNlcg=="), ("Authorization", "Bearer"), ("Cookie", "")]
    assert [value for _, value in redact_headers(headers)] == ["***", "Bearer ***", "***"]


def test_other_headers_keep_value_order_and_repeats() -> None:
    headers = [("Accept", "a"), ("Cookie", "x=1"), ("Accept", "b"), ("X-Api-Keys", "not-ours")]
    assert redact_headers(headers) == [
        ("Accept", "a"),
        ("Cookie", "***"),
        ("Accept", "b"),
        ("X-Api-Keys", "not-ours"),
    ]


def test_redact_record_masks_both_sides_and_trailers_and_leaves_the_original(
    secret_record: FlowRecord,
) -> None:
    secret_record.request.trailers = [("X-Auth-Token", "trailer-secret")]
    before = secret_record.to_json()
    redacted = redact_record(secret_record)
    assert secret_record.to_json() == before
    assert ("X-API-Key", "***") in redacted.request.headers
    assert ("Set-Cookie", "***") in redacted.response.headers
    assert redacted.request.trailers == [("X-Auth-Token", "***")]
    assert redacted.request.body == secret_record.request.body
    assert redacted.id == secret_record.id


def test_redact_record_keeps_a_missing_response_missing(record_kinds) -> None:
    assert redact_record(record_kinds["failed_no_response"]).response is None
