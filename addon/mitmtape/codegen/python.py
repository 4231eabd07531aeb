"""Python `requests` script: one call, then the status and the body printed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mitmtape.codegen.common import (
    has_dot_segments,
    json_body,
    merged_headers,
    python_json_matches,
    replay_headers,
    request_text,
    rewrites_escapes,
)
from mitmtape.model import FlowRecord, Request

SHORTCUT_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_INDENT = "    "


def py_string(text: str) -> str:
    """A Python literal, double-quoted (as the spec writes them) unless the text holds `"`."""
    literal = repr(text)
    if "'" not in text and '"' not in text:
        return f'"{literal[1:-1]}"'
    return literal


def py_text(text: str) -> str:
    """A str for ASCII, else UTF-8 bytes: http.client would encode a str as Latin-1."""
    literal = py_string(text)
    return literal if text.isascii() else f"{literal}.encode()"


def py_value(value: Any, depth: int = 1) -> str:
    """A parsed JSON value as a Python literal, one item per line like the JSON it came from."""
    pad, inner = _INDENT * (depth - 1), _INDENT * depth
    if isinstance(value, dict) and value:
        items = [f"{inner}{py_string(k)}: {py_value(v, depth + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{py_value(v, depth + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, str):
        return py_string(value)
    return repr(value)  # numbers, True/False/None and empty containers read the same


def _body_argument(request: Request) -> str | None:
    """`json=` when requests' own encoding gives back the recorded bytes, else exact `data=`."""
    is_json, value = json_body(request)
    text = request_text(request)
    if is_json and text is not None and python_json_matches(text, value):
        return f"json={py_value(value, 2)}"
    if text is not None:
        return f"data={py_text(text)}"
    if request.body.data:
        return f"data={request.body.data!r}"
    return None


def _arguments(request: Request) -> list[str]:
    arguments = []
    headers = merged_headers(replay_headers(request))
    if headers:
        lines = [f"{_INDENT * 2}{py_string(name)}: {py_text(value)}," for name, value in headers]
        arguments.append("headers={\n" + "\n".join(lines) + f"\n{_INDENT}}}")
    body = _body_argument(request)
    if body:
        arguments.append(body)
    return arguments


def _call(function: str, arguments: list[str]) -> str:
    if len(arguments) == 1:
        return f"{function}({arguments[0]})"
    return f"{function}(\n" + "".join(f"{_INDENT}{a},\n" for a in arguments) + ")"


def requests_rewrites(url: str) -> bool:
    """Whether requests would send another path than recorded: it decodes escaped unreserved
    characters and squashes dot segments while preparing a request."""
    parts = urlsplit(url)
    return rewrites_escapes(parts.path + "?" + parts.query) or has_dot_segments(parts.path)


def generate(record: FlowRecord) -> str:
    request = record.request
    url = py_string(request.url)
    arguments = _arguments(request)
    if requests_rewrites(request.url):
        prepared = _call("requests.Request", [py_string(request.method), url, *arguments])
        call = [
            f"request = {prepared}.prepare()",
            "# As recorded: requests would rewrite %-escapes of plain characters and dot segments.",
            f"request.url = {url}",
            "response = requests.Session().send(request)",
        ]
    elif request.method in SHORTCUT_METHODS:
        call = [f"response = {_call(f'requests.{request.method.lower()}', [url, *arguments])}"]
    else:
        method = py_string(request.method)
        call = [f"response = {_call('requests.request', [method, url, *arguments])}"]
    return "\n".join(
        ["import requests", "", *call, "print(response.status_code)", "print(response.text)"]
    )
