"""cURL command: one option per line, everything single-quoted for POSIX shells."""

from __future__ import annotations

from urllib.parse import urlsplit

from mitmtape.codegen.common import (
    BINARY_BODY_COMMENT,
    has_dot_segments,
    posix_quote,
    replay_headers,
    shell_text,
    shell_word,
)
from mitmtape.model import FlowRecord, Request

_GLOB_CHARACTERS = frozenset("[]{}")


def _header_option(name: str, value: str) -> str:
    # `-H 'Name:'` would remove the header; `Name;` is curl's way to send it empty.
    return f"-H {posix_quote(f'{name};' if value == '' else f'{name}: {value}')}"


def _method_options(request: Request, text: str | None) -> list[str]:
    """Only what curl would not infer: GET is its default, POST follows from `--data-raw`.

    A GET with a body needs `-X GET`, or `--data-raw` would turn it into a POST.
    """
    method = request.method
    if method == "HEAD" and text is None:
        return ["--head"]  # `-X HEAD` would wait for a body that never comes
    if (method == "GET" and text is None) or (method == "POST" and text is not None):
        return []
    return [f"-X {shell_word(method)}"]


def _url_options(url: str) -> list[str]:
    """Turn off what would change the URL: `[]`/`{}` globbing and dot-segment squashing."""
    options = []
    if _GLOB_CHARACTERS.intersection(url):
        options.append("--globoff")
    if has_dot_segments(urlsplit(url).path):
        options.append("--path-as-is")
    return options


def generate(record: FlowRecord) -> str:
    request = record.request
    text = shell_text(request)
    lines = [f"curl {posix_quote(request.url)}"]
    lines += _url_options(request.url)
    lines += _method_options(request, text)
    lines += [_header_option(name, value) for name, value in replay_headers(request)]
    if text is not None:
        lines.append(f"--data-raw {posix_quote(text)}")
    elif request.body.data:
        # Last on purpose: after the final ` \` the comment ends the command harmlessly.
        lines.append(BINARY_BODY_COMMENT)
    return " \\\n  ".join(lines)
