"""Rules every code target shares: which headers to leave out, quoting, text or binary bodies.

Kept in one place so the five targets cannot drift apart on what "the same request" means.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mitmproxy.net import encoding

from mitmtape.model import Body, Headers, Request, header_value, is_text, media_type

SKIPPED_HEADERS = frozenset(
    {
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
    }
)
BINARY_BODY_COMMENT = "# Binary request body (base64-encoded, not included)"

_SHELL_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def replay_headers(request: Request) -> Headers:
    """The recorded headers in wire order, without the hop-by-hop ones a client makes itself."""
    return [(name, value) for name, value in request.headers if name.lower() not in SKIPPED_HEADERS]


def merged_headers(headers: Headers) -> Headers:
    """One entry per name, repeated values joined as HTTP allows (`, `, or `; ` for cookies).

    For clients that take headers as a dict and so cannot send a name twice.
    """
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), (name, []))[1].append(value)
    return [
        (name, ("; " if key == "cookie" else ", ").join(values))
        for key, (name, values) in merged.items()
    ]


def first_values(headers: Headers) -> Headers:
    """One entry per name, keeping the first value (the spec's rule for fetch)."""
    seen: set[str] = set()
    kept: Headers = []
    for name, value in headers:
        if name.lower() not in seen:
            seen.add(name.lower())
            kept.append((name, value))
    return kept


def posix_quote(text: str) -> str:
    """Single-quote for any POSIX shell: nothing inside is special but `'` itself."""
    return "'" + text.replace("'", "'\\''") + "'"


def shell_word(text: str) -> str:
    """The text as one shell word, quoted only when it holds something the shell would read."""
    return text if _SHELL_SAFE.fullmatch(text) else posix_quote(text)


def request_text(request: Request) -> str | None:
    """The body as text when the spec's detection says text, else None (empty or binary).

    Decided on the bytes as sent: a content-encoded body stays binary, because a snippet that
    sent the decoded text under the same `Content-Encoding` header would send a broken request.
    """
    data = request.body.data
    if data and is_text(request.content_type, data):
        return data.decode("utf-8")
    return None


def shell_text(request: Request) -> str | None:
    """Text a shell argument can carry: a NUL byte cannot pass through `argv`."""
    text = request_text(request)
    return None if text is None or "\0" in text else text


def is_json_type(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or kind.endswith("+json")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> tuple[bool, Any]:
    """(True, value) for strict JSON, (False, None) otherwise; NaN and Infinity are refused."""
    try:
        return True, json.loads(text, parse_constant=_no_constants)
    except ValueError:
        return False, None


def json_body(request: Request) -> tuple[bool, Any]:
    """The parsed body when the request says JSON and the text parses."""
    text = request_text(request)
    if text is None or not is_json_type(request.content_type):
        return False, None
    return parse_json(text)


def python_json_matches(text: str, value: Any) -> bool:
    """Whether `json.dumps(value)` (what requests and HTTPie send) gives back the exact text."""
    return json.dumps(value) == text


def rewrites_escapes(part: str) -> bool:
    """Whether a URL part holds escapes that URL normalisers rewrite: lower-case hex or an
    escaped unreserved character (`%7E`, `%41`), which requests and HTTPie decode."""
    return any(
        digits != digits.upper() or chr(int(digits, 16)) in _UNRESERVED
        for digits in _ESCAPE.findall(part)
    )


def has_dot_segments(path: str) -> bool:
    """Whether the path holds `.` or `..` segments, which most clients squash before sending."""
    segments = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), path).split("/")
    return any(segment in (".", "..") for segment in segments)


def decoded_body(body: Body, headers: Headers) -> bytes:
    """The body with its `Content-Encoding` undone, for targets that show text.

    Encodings are listed in the order they were applied, so they are undone from the last; a
    body that does not decode is shown as it was recorded.
    """
    data = body.data
    codings = header_value(headers, "content-encoding") or ""
    for coding in reversed([c.strip().lower() for c in codings.split(",") if c.strip()]):
        if coding == "identity":
            continue
        try:
            data = encoding.decode(data, coding)
        except ValueError:
            return body.data
    return data
