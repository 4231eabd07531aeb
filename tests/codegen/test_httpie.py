"""HTTPie target: `http METHOD URL Name:Value ...`, items HTTPie reads back exactly."""

from __future__ import annotations

import json

import pytest

from mitmtape.codegen.common import BINARY_BODY_COMMENT
from mitmtape.codegen.httpie import generate

JSON = [("Content-Type", "application/json")]
BROWSER = [("User-Agent", "UA"), ("Accept", "*/*"), ("Accept-Encoding", "gzip")]


def test_command_is_method_url_then_headers_and_ignores_stdin(make_record) -> None:
    snippet = generate(make_record(url="http://h/a?b=1&b=2", headers=[*BROWSER, ("X-A", "a b")]))
    lines = snippet.split(" \\\n  ")
    assert lines[0] == "http GET 'http://h/a?b=1&b=2'"
    headers = ["User-Agent:UA", "'Accept:*/*'", "Accept-Encoding:gzip", "'X-A:a b'"]
    assert lines[1:] == [*headers, "--ignore-stdin"]


def test_defaults_not_recorded_are_unset(make_record) -> None:
    snippet = generate(make_record(headers=[("Accept", "*/*")]))
    assert "User-Agent: \\\n" in snippet
    assert "Accept-Encoding: \\\n" in snippet
    assert "  Accept: \\\n" not in snippet


def test_json_object_becomes_raw_json_items(make_record) -> None:
    body = json.dumps({"name": "é", "n": 1, "tags": ["a"], "x": None}).encode()
    snippet = generate(make_record(method="POST", headers=[*BROWSER, *JSON], body=body))
    assert "'name:=\"é\"' \\\n  n:=1 \\\n  'tags:=[\"a\"]' \\\n  x:=null" in snippet
    assert "--raw" not in snippet


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1}',  # HTTPie would send {"a": 1}
        b"[1, 2]",  # not an object
        b"{}",  # no items: HTTPie would send no body
        b'{"a[0]": 1}',  # HTTPie would read nested-JSON syntax in the key
    ],
)
def test_other_json_goes_through_raw(make_record, body) -> None:
    snippet = generate(make_record(method="POST", headers=JSON, body=body))
    assert snippet.endswith(f"--raw '{body.decode()}'")
    assert ":=" not in snippet


def test_header_items_that_httpie_would_misread_are_escaped(make_record) -> None:
    snippet = generate(make_record(headers=[("X-E", ""), ("X-Eq", "=a"), ("X-At", "@f")]))
    assert "'X-E;'" in snippet
    assert "'X-Eq:\\=a'" in snippet
    assert "'X-At:\\@f'" in snippet


def test_binary_body_becomes_the_comment_on_the_last_line(make_record) -> None:
    headers = [("Content-Type", "application/octet-stream")]
    snippet = generate(make_record(method="POST", headers=headers, body=b"\x00"))
    assert snippet.splitlines()[-1] == f"  {BINARY_BODY_COMMENT}"


def test_path_httpie_would_rewrite_is_kept_as_is(make_record) -> None:
    assert "--path-as-is" in generate(make_record(url="http://h/a/../%7Eb"))
    assert "--path-as-is" not in generate(make_record(url="http://h/a%20b"))
