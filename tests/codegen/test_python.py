"""Python target: the spec's call forms, and bodies and URLs that requests sends unchanged."""

from __future__ import annotations

import json

import pytest

from mitmtape.codegen.python import generate

JSON = [("Content-Type", "application/json")]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_standard_methods_use_their_shortcut(make_record, method) -> None:
    snippet = generate(make_record(method=method, url="http://h/"))
    assert f'response = requests.{method.lower()}("http://h/")' in snippet


def test_other_methods_go_through_requests_request(make_record) -> None:
    assert 'requests.request(\n    "PROPFIND",\n    "http://h/",' in generate(
        make_record(method="PROPFIND", url="http://h/", headers=[("Depth", "1")])
    )


def test_snippet_imports_requests_and_prints_status_and_text(make_record) -> None:
    lines = generate(make_record()).splitlines()
    assert lines[0] == "import requests"
    assert lines[-2:] == ["print(response.status_code)", "print(response.text)"]


def test_json_body_is_passed_parsed_when_requests_encodes_it_identically(make_record) -> None:
    body = json.dumps({"a": [1, True, None], "b": "é"}).encode()
    snippet = generate(make_record(method="POST", headers=JSON, body=body))
    assert 'json={\n        "a": [\n            1,\n            True,\n            None,' in snippet
    compile(snippet, "snippet.py", "exec")


@pytest.mark.parametrize(
    ("body", "argument"),
    [(b'{"a":1}', """data='{"a":1}',"""), (b"{no", 'data="{no",'), (b"[NaN]", 'data="[NaN]",')],
)
def test_json_that_requests_would_reencode_falls_back_to_exact_data(
    make_record, body, argument
) -> None:
    snippet = generate(make_record(method="POST", headers=JSON, body=body))
    assert "json=" not in snippet
    assert argument in snippet


def test_form_body_is_sent_as_the_exact_string(make_record) -> None:
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    snippet = generate(make_record(method="POST", headers=headers, body=b"a=1&a=2&b=%26"))
    assert 'data="a=1&a=2&b=%26",' in snippet


def test_non_ascii_text_is_sent_as_utf8_bytes(make_record) -> None:
    headers = [("Content-Type", "text/plain"), ("X-U", "café")]
    snippet = generate(make_record(method="PUT", headers=headers, body="ü".encode()))
    assert 'data="ü".encode(),' in snippet
    assert '"X-U": "café".encode(),' in snippet


def test_binary_body_is_sent_as_bytes(make_record) -> None:
    snippet = generate(make_record(method="POST", body=b"\x00\xff"))
    assert "data=b'\\x00\\xff'," in snippet


def test_repeated_headers_are_joined(make_record) -> None:
    assert '"X-A": "1, 2",' in generate(make_record(headers=[("X-A", "1"), ("X-A", "2")]))


def test_url_requests_would_rewrite_is_put_back_on_the_prepared_request(make_record) -> None:
    snippet = generate(make_record(url="http://h/%7Ejo/./a?x=%41"))
    assert 'request.url = "http://h/%7Ejo/./a?x=%41"' in snippet
    assert "requests.Session().send(request)" in snippet
    compile(snippet, "snippet.py", "exec")


def test_reserved_escapes_keep_the_plain_call(make_record) -> None:
    snippet = generate(make_record(url="http://h/a%20b%2F?q=%E2%9C%93&q=2"))
    assert 'requests.get("http://h/a%20b%2F?q=%E2%9C%93&q=2")' in snippet
