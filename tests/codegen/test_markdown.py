"""Markdown target: masking, escaping, truncation, fences and the footer, as the spec says."""

from __future__ import annotations

import gzip

import pytest

from mitmtape.codegen.markdown import MARKDOWN_BODY_LIMIT, TRUNCATED_SUFFIX, generate
from mitmtape.model import Body, Response


def _response(content_type: str | None, data: bytes, **fields: object) -> Response:
    headers = [("Content-Type", content_type)] if content_type else []
    return Response(200, "OK", headers=[*headers, *fields.pop("extra", [])], body=Body(data))


def _fenced_body(snippet: str, title: str) -> str:
    """The text inside the fence that follows `### {title}`."""
    after = snippet.split(f"### {title}\n\n", 1)[1]
    return after.split("\n", 1)[1].split("\n```", 1)[0]


@pytest.mark.parametrize(
    "name", ["Authorization", "cookie", "SET-COOKIE", "X-Api-Key", "x-auth-token"]
)
def test_secret_headers_are_masked(make_record, name) -> None:
    response = _response(None, b"", extra=[(name, "s3cret")])
    snippet = generate(make_record(headers=[(name, "s3cret")], response=response))
    assert "s3cret" not in snippet
    assert snippet.count(f"| {name} | `***` |") == 2


def test_bearer_tokens_keep_their_scheme(make_record) -> None:
    snippet = generate(make_record(headers=[("Authorization", "bearer abc.def")]))
    assert "| Authorization | `Bearer ***` |" in snippet
    assert "abc.def" not in snippet


def test_other_headers_are_shown_and_hop_by_hop_ones_left_out(make_record) -> None:
    headers = [("X-Trace", "t-1"), ("Proxy-Authorization", "Basic c2VjcmV0"), ("Host", "h")]
    snippet = generate(make_record(headers=headers))
    assert "| X-Trace | `t-1` |" in snippet
    assert "c2VjcmV0" not in snippet
    assert "| Host |" not in snippet


def test_pipes_are_escaped_in_table_cells(make_record) -> None:
    snippet = generate(make_record(url="https://h/a?x=a|b", headers=[("X-List", "a|b|c")]))
    assert "| X-List | `a\\|b\\|c` |" in snippet
    assert "| URL | `https://h/a?x=a\\|b` |" in snippet


def test_body_of_exactly_the_limit_is_kept_whole(make_record) -> None:
    text = "é" * MARKDOWN_BODY_LIMIT
    snippet = generate(make_record(response=_response("text/plain", text.encode())))
    assert _fenced_body(snippet, "Response body") == text


@pytest.mark.parametrize("character", ["a", "é", "日", "🎉"])
def test_longer_body_is_cut_on_characters_then_marked(make_record, character) -> None:
    text = character * (MARKDOWN_BODY_LIMIT + 1)
    snippet = generate(make_record(response=_response("text/plain", text.encode())))
    kept = character * MARKDOWN_BODY_LIMIT
    assert _fenced_body(snippet, "Response body") == kept + TRUNCATED_SUFFIX


def test_request_body_is_cut_too(make_record) -> None:
    headers = [("Content-Type", "application/json")]
    body = b'"' + b"x" * 3000 + b'"'
    snippet = generate(make_record(method="POST", headers=headers, body=body))
    assert _fenced_body(snippet, "Request body") == '"' + "x" * 1999 + TRUNCATED_SUFFIX


@pytest.mark.parametrize(
    ("content_type", "tag"),
    [
        ("application/json", "json"),
        ("application/problem+json; charset=utf-8", "json"),
        ("application/xml", "xml"),
        ("text/xml", "xml"),
        ("application/atom+xml", "xml"),
        ("text/html; charset=utf-8", "html"),
        ("text/plain", ""),
    ],
)
def test_fences_are_tagged_by_content_type(make_record, content_type, tag) -> None:
    snippet = generate(make_record(response=_response(content_type, b"<x/>")))
    assert f"### Response body\n\n```{tag}\n<x/>\n```" in snippet


def test_binary_response_is_named_not_shown(make_record) -> None:
    snippet = generate(make_record(response=_response("image/png", b"\x89PNG\x00\xff")))
    assert "### Response body\n\n*Binary response body*\n" in snippet


def test_compressed_response_is_shown_decoded(make_record) -> None:
    response = _response("application/json", gzip.compress(b'{"ok":1}'))
    response.headers.append(("Content-Encoding", "gzip"))
    assert '```json\n{"ok":1}\n```' in generate(make_record(response=response))


def test_a_body_holding_a_fence_gets_a_longer_fence(make_record) -> None:
    snippet = generate(make_record(response=_response("text/markdown", b"```\ncode\n```")))
    assert "````\n```\ncode\n```\n````" in snippet


def test_last_line_is_the_footer_with_the_start_time(make_record) -> None:
    snippet = generate(make_record(response=_response("text/plain", b"ok")))
    assert snippet.splitlines()[-1] == "*Captured by mitmtape at 2024-05-17T09:30:15.123456Z*"


def test_summary_shows_status_and_duration(make_record) -> None:
    snippet = generate(make_record(response=_response(None, b""), duration_ms=12.34))
    assert "| Status | `200 OK` |" in snippet
    assert "| Duration | `12.3 ms` |" in snippet


def test_flow_without_response_says_so_and_shows_the_error(make_record) -> None:
    snippet = generate(make_record(error="Connection refused | port 1"))
    assert "| Status | `no response` |" in snippet
    assert "| Error | `Connection refused \\| port 1` |" in snippet
    assert "### Response" not in snippet
    assert snippet.splitlines()[-1].startswith("*Captured by mitmtape at ")
