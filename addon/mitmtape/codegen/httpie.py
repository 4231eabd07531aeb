"""HTTPie command: `http METHOD URL Name:Value ...`, quoted only where the shell needs it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from mitmtape.codegen.common import (
    BINARY_BODY_COMMENT,
    has_dot_segments,
    json_body,
    python_json_matches,
    replay_headers,
    rewrites_escapes,
    shell_text,
    shell_word,
)
from mitmtape.model import FlowRecord, Request, header_value

# Headers HTTPie adds by itself; an empty `Name:` item keeps them out when none was recorded.
HTTPIE_DEFAULT_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")
# Characters HTTPie reads as item separators, and so cannot be used in a `key:=value` key.
_ITEM_SEPARATOR_CHARACTERS = frozenset(":;=@\\[]")


def _header_item(name: str, value: str) -> str:
    """`Name:Value`, `Name;` for an empty value (`Name:` would remove the header).

    A leading `=` or `@` would make HTTPie read `:=` or `:@`; a backslash keeps it literal.
    """
    if value == "":
        return shell_word(f"{name};")
    if value[0] in "=@":
        value = "\\" + value
    return shell_word(f"{name}:{value}")


def _unset_defaults(request: Request) -> list[str]:
    return [
        shell_word(f"{name}:")
        for name in HTTPIE_DEFAULT_HEADERS
        if header_value(request.headers, name) is None
    ]


def _json_items(request: Request, text: str) -> list[str] | None:
    """`key:=value` items when HTTPie rebuilds exactly the recorded JSON object from them."""
    is_json, value = json_body(request)
    if not (is_json and isinstance(value, dict) and value):
        return None
    if not python_json_matches(text, value) or any(map(_unsafe_key, value)):
        return None
    items = value.items()
    return [shell_word(f"{key}:={json.dumps(item, ensure_ascii=False)}") for key, item in items]


def _unsafe_key(key: str) -> bool:
    return not key or bool(_ITEM_SEPARATOR_CHARACTERS.intersection(key))


def _body_parts(request: Request) -> tuple[list[str], list[str]]:
    """(items, trailing options) that carry the body."""
    text = shell_text(request)
    if text is None:
        return [], [BINARY_BODY_COMMENT] if request.body.data else []
    items = _json_items(request, text)
    if items is not None:
        return items, []
    return [], [f"--raw {shell_word(text)}"]


def generate(record: FlowRecord) -> str:
    request = record.request
    body_items, body_options = _body_parts(request)
    lines = [f"http {shell_word(request.method)} {shell_word(request.url)}"]
    lines += [_header_item(name, value) for name, value in replay_headers(request)]
    lines += _unset_defaults(request)
    lines += body_items
    lines.append("--ignore-stdin")  # so it also runs in scripts and CI, where stdin is no TTY
    path = urlsplit(request.url).path
    if has_dot_segments(path) or rewrites_escapes(path):
        lines.append("--path-as-is")
    lines += body_options  # last: a binary-body comment must end the command
    return " \\\n  ".join(lines)
