"""The `html` export: one self-contained report page to open, search, sort, share and print.

The table rows are rendered here, so the page reads and prints without JavaScript; the inline
script only adds search, sorting and a detail panel, and builds that panel with `textContent`.
Traffic strings reach the page two ways only: Jinja's autoescape (element text, attributes) and
`script_json` (the JSON block). On top of that, a Content-Security-Policy holding the hashes of
the page's own style and script refuses every other script, handler and address, so the page
makes no request when opened, and an escaping slip still could not run anything.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import jinja2
from markupsafe import Markup

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.redact import redact_record
from mitmtape.export.report.textcut import cut_path
from mitmtape.model import OMISSIONS, TIMING_PHASES, FlowRecord, format_time, media_type

REPORT_CAP = 10_000
ERROR_CUT = 120
HEADER_VALUE_CUT = 2_000
# The response-time histogram's bins: upper edge in ms (None: no edge) and label.
HISTOGRAM_BINS = (
    (10, "<10 ms"),
    (25, "10–25"),
    (50, "25–50"),
    (100, "50–100"),
    (250, "100–250"),
    (500, "250–500"),
    (1_000, "0.5–1 s"),
    (2_500, "1–2.5 s"),
    (5_000, "2.5–5 s"),
    (10_000, "5–10 s"),
    (None, "≥10 s"),
)
WATERFALL_ROWS = 120
WATERFALL_HEIGHT = 240
CHART_WIDTH = 1000
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
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "none", "other")
STATUS_LABELS = {"none": "no response", "other": "other"}
# Classes the summary always lists (the spec's), even at zero; the others only when present.
STATUS_CLASSES_SHOWN = ("2xx", "3xx", "4xx", "5xx", "none")

TEMPLATES = Path(__file__).parent / "templates"


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


def status_class(record: FlowRecord) -> str:
    if record.response is None:
        return "none"
    status = record.response.status
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def duration_of(record: FlowRecord) -> float | None:
    """The flow's duration, or None when unknown or not a number (an import can hold NaN)."""
    ms = record.duration_ms
    return ms if ms is not None and math.isfinite(ms) else None


def is_error(record: FlowRecord) -> bool:
    """The spec's errors: failed flows (an error or no response) and 5xx responses."""
    return record.error is not None or record.response is None or record.status >= 500


def format_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


@dataclass(slots=True)
class Summary:
    """The numbers at the top of the report, gathered in one pass over the records."""

    flows: int = 0
    bytes: int = 0
    errors: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    hosts: set[str] = field(default_factory=set)
    durations: list[float] = field(default_factory=list)

    def add(self, record: FlowRecord) -> None:
        self.flows += 1
        self.bytes += record.request_size + record.response_size
        self.errors += is_error(record)
        self.methods[record.request.method] += 1
        self.statuses[status_class(record)] += 1
        self.hosts.add(record.request.host)
        if (ms := duration_of(record)) is not None:
            self.durations.append(ms)

    def status_counts(self) -> list[tuple[str, str, int]]:
        """(class, label, count) for the spec's classes and any other class present."""
        return [
            (name, STATUS_LABELS.get(name, name), self.statuses[name])
            for name in STATUS_CLASSES
            if name in STATUS_CLASSES_SHOWN or self.statuses[name]
        ]

    def percentile(self, share: float) -> float | None:
        if not self.durations:
            return None
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


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


def histogram(durations: list[float]) -> list[dict[str, Any]]:
    """Bars of the response-time histogram: label, count and geometry in a 600×150 box."""
    edges = [edge for edge, _ in HISTOGRAM_BINS if edge is not None]
    counts = [0] * len(HISTOGRAM_BINS)
    for ms in durations:
        counts[bisect.bisect_right(edges, ms)] += 1
    tallest = max(counts) or 1
    width = 600 / len(counts)
    return [
        {
            "label": label,
            "count": count,
            "x": round(index * width + 3, 1),
            "width": round(width - 6, 1),
            "height": round(120 * count / tallest, 1),
        }
        for index, ((_, label), count) in enumerate(zip(HISTOGRAM_BINS, counts, strict=True))
    ]


def status_bar(summary: Summary) -> list[dict[str, Any]]:
    """Segments of the stacked status-class bar, as shares of `CHART_WIDTH`."""
    segments, x = [], 0.0
    for name, label, count in summary.status_counts():
        width = CHART_WIDTH * count / (summary.flows or 1)
        if count:
            segments.append({"name": name, "label": label, "count": count, "x": x, "w": width})
        x += width
    return segments


def waterfall(rows: list[Row]) -> dict[str, Any]:
    """The timeline: each flow a bar from its start to its end, one SVG path per status class.

    Past `WATERFALL_ROWS` flows, neighbours share a line: the picture keeps its height and still
    shows when traffic came, how long it took and where it failed.
    """
    if not rows:
        return {"height": 0, "paths": {}, "ticks": []}
    first = rows[0].start_ms
    ends = [row.start_ms + (row.duration_ms or 0) for row in rows]
    span = max(max(ends) - first, 1.0)
    lines = min(len(rows), WATERFALL_ROWS)
    line_height = max(2.0, min(12.0, WATERFALL_HEIGHT / lines))
    paths: dict[str, list[str]] = {}
    for index, (row, end) in enumerate(zip(rows, ends, strict=True)):
        x = CHART_WIDTH * (row.start_ms - first) / span
        width = max(CHART_WIDTH * (end - row.start_ms) / span, 1.5)
        y = (index * lines // len(rows)) * line_height
        bar = f"M{x:.1f} {y:.1f}h{width:.1f}v{line_height * 0.8:.1f}h{-width:.1f}z"
        paths.setdefault(row.status_class, []).append(bar)
    ticks = [
        {"x": CHART_WIDTH * share, "label": f"+{format_ms(span * share)}" if share else "0"}
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {"height": lines * line_height, "paths": paths, "ticks": ticks}


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["bytes"] = format_bytes
    environment.filters["ms"] = format_ms
    environment.filters["clean"] = clean
    environment.filters["iso"] = format_time
    return environment


@cache
def _asset(name: str) -> tuple[Markup, str]:
    """A static style or script, and its CSP hash source (`'sha256-…'`)."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"


def write(out: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    """Render the report; records arrive capped and oldest first, without body bytes.

    The detail panel shows headers, so redaction applies here as in every format.
    """
    listed = [redact_record(record) if context.redact else record for record in records]
    summary = Summary()
    for record in listed:
        summary.add(record)
    days = {record.started_at.astimezone(UTC).date() for record in listed[:1] + listed[-1:]}
    rows = [make_row(record, with_date=len(days) > 1) for record in listed]
    strings = Strings()
    flows = [flow_json(row, strings) for row in rows]
    style, style_hash = _asset("report.css")
    script, script_hash = _asset("report.js")
    template = _environment().get_template("report.html.j2")
    page = template.generate(
        session=context.session,
        exported_at=context.exported_at,
        matched=max(context.matched, len(rows)),
        summary=summary,
        median=summary.percentile(0.5),
        p95=summary.percentile(0.95),
        period=period(rows),
        rows=rows,
        columns=COLUMNS,
        method_badges=METHOD_BADGES,
        status_bar=status_bar(summary),
        histogram=histogram(summary.durations),
        waterfall=waterfall(rows),
        data=script_json({"strings": list(strings.index), "flows": flows}),
        style=style,
        script=script,
        csp=f"default-src 'none'; style-src {style_hash}; script-src {script_hash}; "
        "img-src data:; base-uri 'none'; form-action 'none'",
    )
    out.writelines(page)


def period(rows: list[Row]) -> dict[str, str] | None:
    """When the first flow started and the last one ended, for the page's header."""
    if not rows:
        return None
    start = rows[0].record.started_at.astimezone(UTC)
    end = max(row.record.started_at + timedelta(milliseconds=row.duration_ms or 0) for row in rows)
    end = end.astimezone(UTC)
    same_day = start.date() == end.date()
    return {
        "start": format_time(start),
        "end": format_time(end),
        "start_text": start.strftime("%Y-%m-%d %H:%M:%S"),
        "end_text": end.strftime("%H:%M:%S UTC" if same_day else "%Y-%m-%d %H:%M:%S UTC"),
        "length": format_ms((end - start).total_seconds() * 1000),
    }


FORMAT = ExportFormat(
    name="html",
    suffix=".html",
    media_type="text/html",
    needs_bodies=False,
    write=write,
    cap=REPORT_CAP,
)
