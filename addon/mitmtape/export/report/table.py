"""The report's table: one formatted row per flow, and the JSON block its script reads.

Traffic strings reach the page two ways only: Jinja's autoescape (element text, attributes)
and `script_json` (the JSON block), after `clean` made them writable as UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from markupsafe import Markup

from mitmtape.export.report.summary import duration_of, status_class
from mitmtape.export.report.textcut import cut_path
from mitmtape.model import OMISSIONS, TIMING_PHASES, FlowRecord, media_type

ERROR_CUT = 120

HEADER_VALUE_CUT = 2_000

METHOD_BADGES = {"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete", "PATCH": "patch"}

COLUMNS = (
    ("time", "Time (UTC)"),
    ("method", "Method"),
    ("status", "Status"),
    ("host", "Host"),
    ("path", "Path"),
    ("duration", "Duration"),
    ("size", "Size"),
    ("tags", "Tags"),
)


def clean(text: str) -> str:
    """Text that can be written as UTF-8: lone surrogates (from undecodable bytes) become �."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def script_json(value: Any) -> Markup:
    """JSON safe inside a `<script>` element: no `<`, `>` or `&` can close or open a tag."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@dataclass(slots=True)
class Row:
    """One table row, already formatted, and its flow's data for the script."""

    record: FlowRecord
    start_ms: float
    duration_ms: float | None
    time_text: str
    method_badge: str
    status_class: str
    path_text: str
    error_text: str
    # Which bodies were not recorded and why, for the size cell's marker ("" when all were).
    omitted_text: str


class Strings:
    """Interns the strings of the JSON block: header names and values repeat a lot."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if text is None:
            return -1
        return self.index.setdefault(clean(text), len(self.index))

    def pairs(self, headers: Iterable[tuple[str, str]]) -> list[int]:
        flat: list[int] = []
        for name, value in headers:
            flat += (self(name), self(_cut(value, HEADER_VALUE_CUT)))
        return flat


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def make_row(record: FlowRecord, with_date: bool) -> Row:
    started = record.started_at.astimezone(UTC)
    time_text = started.strftime("%m-%d %H:%M:%S.%f" if with_date else "%H:%M:%S.%f")[:-3]
    return Row(
        record=record,
        start_ms=started.timestamp() * 1000,
        duration_ms=duration_of(record),
        time_text=time_text,
        method_badge=METHOD_BADGES.get(record.request.method.upper(), "other"),
        status_class=status_class(record),
        path_text=clean(cut_path(record.request.path)),
        error_text=clean(_cut(record.error or "", ERROR_CUT)),
        omitted_text=omitted_text(record),
    )


def omitted_text(record: FlowRecord) -> str:
    """`response body not recorded: …` for each body mitmtape has no bytes of."""
    parts = [("request", record.request.body)]
    if record.response is not None:
        parts.append(("response", record.response.body))
    return "; ".join(
        f"{part} body {OMISSIONS[body.omitted]}" for part, body in parts if body.omitted is not None
    )


def flow_json(row: Row, strings: Strings) -> list[Any]:
    """The script's view of one flow, strings as indexes into `strings`.

    report.js reads the fields by position, in this order.
    """
    record, response = row.record, row.record.response
    timings = record.timings.to_json() if record.timings else None
    return [
        strings(record.request.url),
        strings(record.request.method),
        strings(record.request.host),
        strings(record.request.path),
        record.status,
        strings(response.reason if response else None),
        row.duration_ms,
        record.response_size,
        record.request_size,
        round(row.start_ms, 3),
        strings(record.error),
        strings(media_type(response.content_type) if response else None),
        strings(record.source),
        strings(record.request.http_version),
        [strings(tag) for tag in record.tags],
        strings.pairs(record.request.headers),
        strings.pairs(response.headers) if response else None,
        None if timings is None else [timings[phase] for phase in TIMING_PHASES],
        strings(row.omitted_text or None),
    ]
