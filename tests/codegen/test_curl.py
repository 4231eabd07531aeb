"""cURL target: the spec's rules and what keeps a pasted command faithful."""

from __future__ import annotations

from mitmtape.codegen.common import BINARY_BODY_COMMENT
from mitmtape.codegen.curl import generate

JSON = [("Content-Type", "application/json")]


def test_get_is_the_url_and_one_header_per_line(make_record) -> None:
    record = make_record(url="https://h.example/a?b=1", headers=[("Accept", "*/*"), ("Host", "h")])
    assert generate(record) == "curl 'https://h.example/a?b=1' \\\n  -H 'Accept: */*'"


def test_get_has_no_dash_x(make_record) -> None:
    assert "-X" not in generate(make_record(method="GET"))


def test_text_body_goes_through_data_raw_and_post_is_inferred(make_record) -> None:
    snippet = generate(make_record(method="POST", headers=JSON, body=b'{"a":"it\'s"}'))
    assert snippet.endswith("--data-raw '{\"a\":\"it'\\''s\"}'")
    assert "-X" not in snippet


def test_other_methods_are_named(make_record) -> None:
    assert "\n  -X PUT \\\n" in generate(make_record(method="PUT", headers=JSON, body=b"{}"))
    assert "\n  -X PROPFIND" in generate(make_record(method="PROPFIND"))


def test_binary_body_becomes_the_spec_comment_on_the_last_line(make_record) -> None:
    headers = [("Content-Type", "application/octet-stream")]
    snippet = generate(make_record(method="POST", headers=headers, body=b"\x00\xff"))
    assert snippet.splitlines()[-1] == f"  {BINARY_BODY_COMMENT}"
    assert "-X POST" in snippet  # without a body curl would not infer POST


def test_header_values_are_single_quoted_and_empty_values_still_sent(make_record) -> None:
    headers = [("X-Q", "it's $HOME `id` !"), ("X-Empty", "")]
    snippet = generate(make_record(headers=headers))
    assert "-H 'X-Q: it'\\''s $HOME `id` !'" in snippet
    assert "-H 'X-Empty;'" in snippet


def test_compressed_is_never_added(make_record) -> None:
    headers = [("Accept-Encoding", "gzip, br")]
    assert "--compressed" not in generate(make_record(headers=headers))


def test_get_with_body_keeps_its_method(make_record) -> None:
    assert "-X GET" in generate(make_record(method="GET", headers=JSON, body=b"{}"))


def test_head_uses_head_option_that_does_not_wait_for_a_body(make_record) -> None:
    assert generate(make_record(method="HEAD")).endswith("--head")


def test_url_that_curl_would_rewrite_turns_off_globbing_and_squashing(make_record) -> None:
    snippet = generate(make_record(url="http://h/a/../b?x[]=1"))
    assert "--globoff" in snippet
    assert "--path-as-is" in snippet
    assert "--globoff" not in generate(make_record(url="http://h/a?b=1"))
