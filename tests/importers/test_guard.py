"""The byte filter before the JSON parser: depth, huge numbers, lone surrogates, chunk edges."""

from __future__ import annotations

import json

import pytest

from mitmtape.importers.guard import MAX_JSON_DEPTH, JsonGuard, fit_number

CHUNK_SIZES = [1, 2, 3, 7, 64, 65536]


def guarded(document: bytes, chunk: int = 65536) -> tuple[bytes, JsonGuard]:
    guard = JsonGuard()
    pieces = [guard.feed(document[at : at + chunk]) for at in range(0, len(document), chunk)]
    pieces.append(guard.feed(b"", final=True))
    return b"".join(pieces), guard


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_at_the_limit_passes_unchanged() -> None:
    out, guard = guarded(nested(MAX_JSON_DEPTH))
    assert out == nested(MAX_JSON_DEPTH) and guard.replaced == 0


def test_nesting_one_past_the_limit_is_replaced_by_the_marker() -> None:
    out, guard = guarded(nested(MAX_JSON_DEPTH + 1))
    expected = [guard.marker]
    for _ in range(MAX_JSON_DEPTH - 1):
        expected = [expected]
    assert json.loads(out) == expected
    assert guard.replaced == 1 and guard.first_deep is not None
    assert guard.first_deep.offset == MAX_JSON_DEPTH and guard.first_deep.depth == 65


def test_fifty_thousand_levels_become_a_short_document() -> None:
    out, guard = guarded(nested(50_000))
    assert len(out) < 1000 and guard.first_deep is not None
    assert guard.first_deep.depth == 50_000


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_output_does_not_depend_on_where_the_chunks_end(chunk: int) -> None:
    document = (
        b'[{"a": "x\\\\", "b": "\\"]]]\\"", "s": "\\ud83d\\ude00 \\udc00", "n": '
        b"123456789012345678901234}, " + nested(70) + b', "[[[[", -1e400, 7]'
    )
    whole, reference = guarded(document)
    out, guard = guarded(document, chunk)
    assert out.replace(guard.marker.encode(), b"M") == whole.replace(
        reference.marker.encode(), b"M"
    )
    parsed = json.loads(out)
    assert parsed[0]["s"] == "\U0001f600 \ufffd"
    assert parsed[0]["b"] == '"]]]"' and parsed[0]["n"] == 1.2345678901234568e23
    assert parsed[-2] == -1.7976931348623157e308 and guard.replaced == 1


@pytest.mark.parametrize(
    ("token", "fitted"),
    [
        (b"9223372036854775807", None),
        (b"9223372036854775808", b"9.223372036854776e+18"),
        (b"-9223372036854775808", None),
        (b"-9223372036854775809", b"-9.223372036854776e+18"),
        (b"1e308", None),
        (b"1e309", b"1.7976931348623157e+308"),
        (b"1" + b"0" * 400, b"1.7976931348623157e+308"),
        (b"0.5", None),
    ],
)
def test_numbers_are_rewritten_exactly_when_the_parser_cannot_hold_them(
    token: bytes, fitted: bytes | None
) -> None:
    assert fit_number(token) == fitted


def test_escaped_backslash_before_u_is_not_a_surrogate_escape() -> None:
    out, _ = guarded(b'["\\\\udc00", "\\ud800"]')
    assert json.loads(out) == ["\\udc00", "\ufffd"]


def test_escapes_before_a_quote_keep_strings_apart_in_every_chunking() -> None:
    # Every escape right before a string's closing quote: brackets inside the strings must not
    # count, the real nesting after them must.
    escapes = [b"\\/", b"\\b", b"\\f", b"\\n", b"\\r", b"\\t", b"\\u0041", b"\\\\", b'\\"']
    strings = [b'"[[[[' + escape + b'"' for escape in escapes]
    document = b"[" + b", ".join([*strings, nested(65)]) + b"]"
    for chunk in CHUNK_SIZES:
        out, guard = guarded(document, chunk)
        parsed = json.loads(out)
        assert parsed[:-1] == ["[[[[" + text for text in '/\b\f\n\r\tA\\"']
        assert guard.replaced == 1


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b'["\\"\\udc00\\""]', ['"\ufffd"']),  # beside escaped quotes, which the view drops
        (b'["\\\\\\udc00"]', ["\\\ufffd"]),  # an escaped backslash, then the escape
        (b'["\\\\u00e9 \\/"]', ["\\u00e9 /"]),  # a backslash, then the letter u
    ],
)
def test_lone_surrogates_are_found_among_other_escapes(document: bytes, expected: list) -> None:
    for chunk in CHUNK_SIZES:
        assert json.loads(guarded(document, chunk)[0]) == expected
