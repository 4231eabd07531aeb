"""Markdown summary to paste into an issue or a chat: tables, bodies, secrets masked."""

from __future__ import annotations

import re

from mitmtape.codegen.common import SKIPPED_HEADERS, decoded_body, is_json_type
from mitmtape.model import Body, FlowRecord, Headers, format_time, header_value, is_text, media_type

MASKED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"})
MARKDOWN_BODY_LIMIT = 2_000  # characters, then TRUNCATED_SUFFIX
TRUNCATED_SUFFIX = "...(truncated)"
_BACKTICK_RUN = re.compile(r"`+")


def mask(name: str, value: str) -> str:
    """A secret header's value hidden, keeping only the scheme of a bearer token."""
    if name.lower() not in MASKED_HEADERS:
        return value
    return "Bearer ***" if value.lower().startswith("bearer ") else "***"


def cell(text: str) -> str:
    """Text for a table cell: `|` would end the cell and a line break the row."""
    return " ".join(text.splitlines()).replace("|", "\\|")


def code_cell(text: str) -> str:
    """A code span, so `*/*` or `_x_` in a value is not read as emphasis."""
    if not text:
        return ""
    ticks = "`" * (max(map(len, _BACKTICK_RUN.findall(text)), default=0) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return cell(f"{ticks}{padded}{ticks}")


def fence_language(content_type: str | None) -> str:
    if is_json_type(content_type):
        return "json"
    kind = media_type(content_type)
    if kind in ("application/xml", "text/xml") or kind.endswith("+xml"):
        return "xml"
    return "html" if kind == "text/html" else ""


def truncate(text: str) -> str:
    """At most MARKDOWN_BODY_LIMIT characters (code points, so none is ever split)."""
    if len(text) <= MARKDOWN_BODY_LIMIT:
        return text
    return text[:MARKDOWN_BODY_LIMIT] + TRUNCATED_SUFFIX


def header_table(headers: Headers) -> list[str]:
    """Headers as a table, without the hop-by-hop ones every target leaves out (among them
    `proxy-authorization`, which would otherwise show a credential)."""
    rows = [
        f"| {cell(name)} | {code_cell(mask(name, value))} |"
        for name, value in headers
        if name.lower() not in SKIPPED_HEADERS
    ]
    return ["| Name | Value |", "|---|---|", *rows] if rows else []


def body_block(body: Body, headers: Headers, what: str) -> list[str]:
    """A fenced body, or the italic note for a binary one; nothing for an empty body."""
    data = decoded_body(body, headers)
    if not data:
        return []
    content_type = header_value(headers, "content-type")
    if not is_text(content_type, data):
        return [f"*Binary {what} body*"]
    text = truncate(data.decode("utf-8"))
    fence = "`" * max(3, max(map(len, _BACKTICK_RUN.findall(text)), default=0) + 1)
    return [f"{fence}{fence_language(content_type)}", text, fence]


def summary_table(record: FlowRecord) -> list[str]:
    request, response = record.request, record.response
    rows = [("Method", request.method), ("URL", request.url)]
    status = f"{response.status} {response.reason}".strip() if response else "no response"
    rows.append(("Status", status))
    if record.duration_ms is not None:
        rows.append(("Duration", f"{record.duration_ms:.1f} ms"))
    if record.error:
        rows.append(("Error", record.error))
    return ["| Field | Value |", "|---|---|", *(f"| {k} | {code_cell(v)} |" for k, v in rows)]


def section(title: str, lines: list[str]) -> list[str]:
    return [f"### {title}", "", *lines, ""] if lines else []


def generate(record: FlowRecord) -> str:
    request, response = record.request, record.response
    lines = [f"## {request.method} {request.path}", "", *summary_table(record), ""]
    lines += section("Request headers", header_table(request.headers))
    lines += section("Request body", body_block(request.body, request.headers, "request"))
    if response is not None:
        lines += section("Response headers", header_table(response.headers))
        lines += section("Response body", body_block(response.body, response.headers, "response"))
    lines.append(f"*Captured by mitmtape at {format_time(record.started_at)}*")
    return "\n".join(lines)
