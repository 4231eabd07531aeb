"""JavaScript `fetch()` call, for a browser console or Node 18+ (top-level `await`)."""

from __future__ import annotations

import json
from typing import Any

from mitmtape.codegen.common import first_values, json_body, replay_headers, request_text
from mitmtape.model import FlowRecord, Request

_JS_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JS_SAFE_INTEGER = 2**53
_NO_BODY_METHODS = ("GET", "HEAD")


def js_string(text: str) -> str:
    """A single-quoted JavaScript string literal holding exactly `text`."""
    out = []
    for char in text:
        if char in _JS_ESCAPES:
            out.append(_JS_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def js_byte_string(text: str) -> str:
    """A header value literal: fetch sends each character below 256 as one byte (a WebIDL
    ByteString), so non-ASCII text is written as its UTF-8 bytes to arrive as UTF-8."""
    if text.isascii():
        return js_string(text)
    as_bytes = text.encode("utf-8").decode("latin-1")
    return js_string(as_bytes).encode("ascii", "backslashreplace").decode("ascii")


def _stringify_keeps(value: Any) -> bool:
    """Whether JavaScript holds the value exactly: numbers it prints as Python does, and no
    `__proto__` key (an object literal sets the prototype instead of a property)."""
    if isinstance(value, dict):
        return "__proto__" not in value and all(map(_stringify_keeps, value.values()))
    if isinstance(value, list):
        return all(map(_stringify_keeps, value))
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= _JS_SAFE_INTEGER
    if isinstance(value, float):
        return not value.is_integer() and "e" not in repr(value)
    return True


def _stringify_gives(value: Any) -> str:
    """What `JSON.stringify(value)` prints, for the values `_stringify_keeps` allows."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _body_expression(request: Request) -> str | None:
    """`JSON.stringify(...)` when it gives back the recorded bytes, else a string literal."""
    text = request_text(request)
    if text is None:
        return None
    is_json, value = json_body(request)
    if is_json and _stringify_gives(value) == text and _stringify_keeps(value):
        pretty = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        return f"JSON.stringify({pretty})"
    return js_string(text)


def _left_out_note(request: Request, body: str | None) -> str | None:
    if body is not None and request.method in _NO_BODY_METHODS:
        return f"// fetch cannot send a body with {request.method}: the recorded body is left out"
    if body is None and request.body.data:
        return "// Binary request body left out"
    return None


def _options(request: Request, body: str | None) -> list[str]:
    lines = []
    if request.method != "GET":
        lines.append(f"  method: {js_string(request.method)},")
    headers = first_values(replay_headers(request))
    if headers:
        lines.append("  headers: {")
        lines += [f"    {js_string(name)}: {js_byte_string(value)}," for name, value in headers]
        lines.append("  },")
    if body is not None and request.method not in _NO_BODY_METHODS:
        lines.append(f"  body: {body},")
    return lines


def generate(record: FlowRecord) -> str:
    request = record.request
    body = _body_expression(request)
    options = _options(request, body)
    call = f"fetch({js_string(request.url)})"
    if options:
        call = "\n".join([f"fetch({js_string(request.url)}, {{", *options, "})"])
    note = _left_out_note(request, body)
    lines = [note] if note else []
    lines += [
        f"const response = await {call};",
        "console.log(response.status);",
        "console.log(await response.text());",
    ]
    return "\n".join(lines)
