"""fetch target: the spec's rules, and literals that hold exactly the recorded text."""

from __future__ import annotations

import pytest

from mitmtape.codegen.fetch import generate, js_byte_string, js_string

JSON = [("Content-Type", "application/json")]


def test_plain_get_has_no_options_and_no_get_method(make_record) -> None:
    snippet = generate(make_record(url="https://h.example/"))
    assert snippet.splitlines()[0] == "const response = await fetch('https://h.example/');"
    assert "method: 'GET'" not in generate(make_record(headers=[("Accept", "*/*")]))


def test_json_body_is_pretty_printed_inside_json_stringify(make_record) -> None:
    snippet = generate(make_record(method="POST", headers=JSON, body=b'{"a":[1,"x"]}'))
    assert "  method: 'POST'," in snippet
    assert '  body: JSON.stringify({\n    "a": [\n      1,\n      "x"\n    ]\n  }),' in snippet


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',  # JSON.stringify would drop the spaces
        b'{"n":1.0}',  # ... print 1
        b'{"n":12345678901234567890}',  # ... round the integer
        b'{"__proto__":{}}',  # ... set the prototype instead
    ],
)
def test_json_that_javascript_would_change_stays_a_string_literal(make_record, body) -> None:
    snippet = generate(make_record(method="POST", headers=JSON, body=body))
    assert "JSON.stringify" not in snippet
    assert f"  body: {js_string(body.decode())}," in snippet


def test_other_text_bodies_are_string_literals(make_record) -> None:
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    snippet = generate(make_record(method="POST", headers=headers, body=b"a=1&b=it's"))
    assert "  body: 'a=1&b=it\\'s'," in snippet


def test_binary_body_is_left_out(make_record) -> None:
    headers = [("Content-Type", "image/png")]
    snippet = generate(make_record(method="PUT", headers=headers, body=b"\x89PNG\x00"))
    assert "body:" not in snippet
    assert snippet.startswith("// Binary request body left out\n")


def test_repeated_header_keeps_its_first_value(make_record) -> None:
    snippet = generate(make_record(headers=[("X-A", "1"), ("x-a", "2")]))
    assert "'X-A': '1'," in snippet
    assert "'2'" not in snippet


def test_js_string_escapes_what_a_literal_cannot_hold() -> None:
    assert js_string("a'b\\c\nd\u2028\x00é") == "'a\\'b\\\\c\\nd\\u2028\\x00é'"


def test_non_ascii_header_values_are_written_as_their_utf8_bytes() -> None:
    assert js_byte_string("café") == "'caf\\xc3\\xa9'"
    assert js_byte_string("plain") == "'plain'"
