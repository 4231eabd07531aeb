"""Shared rules: skipped headers, shell quoting, text or binary, content decoding."""

from __future__ import annotations

import gzip

import pytest
from mitmproxy.net import encoding

from mitmtape.codegen.common import (
    SKIPPED_HEADERS,
    decoded_body,
    first_values,
    has_dot_segments,
    merged_headers,
    posix_quote,
    replay_headers,
    request_text,
    rewrites_escapes,
    shell_word,
)
from mitmtape.model import Body, Request


def test_the_eleven_spec_hop_by_hop_headers_are_skipped() -> None:
    assert {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailers",
        "upgrade",
    } == SKIPPED_HEADERS


def test_replay_headers_drop_hop_by_hop_in_any_case_and_keep_order() -> None:
    headers = [("HOST", "a"), ("X-B", "1"), ("Proxy-Authorization", "x"), ("X-A", "2")]
    assert replay_headers(Request("GET", "http://h/", headers=headers)) == [
        ("X-B", "1"),
        ("X-A", "2"),
    ]


def test_posix_quote_escapes_single_quotes_the_spec_way() -> None:
    assert posix_quote("it's $HOME") == "'it'\\''s $HOME'"


@pytest.mark.parametrize(
    ("text", "word"),
    [("a:b/c.d", "a:b/c.d"), ("a b", "'a b'"), ("$x", "'$x'"), ("", "''"), ("x;", "'x;'")],
)
def test_shell_word_quotes_only_where_the_shell_would_read(text: str, word: str) -> None:
    assert shell_word(text) == word


def test_request_text_is_text_only_for_a_text_type_that_decodes() -> None:
    def text(content_type: str | None, data: bytes) -> str | None:
        headers = [("Content-Type", content_type)] if content_type else []
        return request_text(Request("POST", "http://h/", headers=headers, body=Body(data)))

    assert text("application/json", b'{"a":1}') == '{"a":1}'
    assert text("application/vnd.api+json", b"{}") == "{}"
    assert text(None, b"plain") is None
    assert text("application/octet-stream", b"abc") is None
    assert text("text/plain", b"\xff\xfe") is None
    assert text("application/json", gzip.compress(b"{}")) is None


def test_repeated_headers_merge_with_commas_and_cookies_with_semicolons() -> None:
    headers = [("X-A", "1"), ("Cookie", "a=1"), ("x-a", "2"), ("cookie", "b=2")]
    assert merged_headers(headers) == [("X-A", "1, 2"), ("Cookie", "a=1; b=2")]
    assert first_values(headers) == [("X-A", "1"), ("Cookie", "a=1")]


@pytest.mark.parametrize(
    ("part", "rewritten"),
    [("/a%20b%2F?q=%E2%9C%93", False), ("/%7Ejo", True), ("/a%41", True), ("/a%2f", True)],
)
def test_escapes_that_normalisers_rewrite_are_spotted(part: str, rewritten: bool) -> None:
    assert rewrites_escapes(part) is rewritten


@pytest.mark.parametrize(
    ("path", "dots"), [("/a/./b", True), ("/a/../b", True), ("/a/%2e%2E/b", True), ("/a.b/", False)]
)
def test_dot_segments_are_spotted_also_when_escaped(path: str, dots: bool) -> None:
    assert has_dot_segments(path) is dots


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_content_encoded_bodies_are_decoded(coding: str) -> None:
    body = Body(encoding.encode(b"hello world", coding))
    assert decoded_body(body, [("Content-Encoding", coding)]) == b"hello world"


def test_stacked_encodings_are_undone_from_the_last_applied() -> None:
    data = encoding.encode(gzip.compress(b"x"), "br")
    assert decoded_body(Body(data), [("Content-Encoding", "gzip, br")]) == b"x"


def test_a_body_that_does_not_decode_is_kept_as_recorded() -> None:
    assert decoded_body(Body(b"not gzip"), [("Content-Encoding", "gzip")]) == b"not gzip"
