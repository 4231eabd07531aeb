"""The report page: the template, its inline style and script with their CSP hashes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, timedelta
from functools import cache
from pathlib import Path
from typing import TextIO

import jinja2
from markupsafe import Markup

from mitmtape.export.base import ExportContext
from mitmtape.export.report.charts import histogram, status_bar, waterfall
from mitmtape.export.report.summary import Summary
from mitmtape.export.report.table import (
    COLUMNS,
    METHOD_BADGES,
    Row,
    Strings,
    clean,
    flow_json,
    make_row,
    script_json,
)
from mitmtape.model import FlowRecord, format_time
from mitmtape.text import human_duration, human_size

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["bytes"] = human_size
    environment.filters["ms"] = human_duration
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
    """Render the report; records arrive capped, oldest first, redacted when asked, without
    body bytes."""
    listed = list(records)
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
        # Every record has been read (and redacted) by now, so the counts are complete.
        redacted=None if context.redaction is None else context.redaction.text(),
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
        "length": human_duration((end - start).total_seconds() * 1000),
    }
