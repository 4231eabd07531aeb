"""CSV export: one row of 12 columns per flow, for spreadsheets.

Spreadsheets run a cell that starts like a formula, so such cells, and such tags within the
tags cell, get a leading `'` (the formula-injection guard) before the `csv` module applies
RFC 4180 quoting. The caller opens the stream with `newline=""` so the `\\r\\n` row ends
reach the file unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.model import FlowRecord

COLUMNS = (
    "id",
    "method",
    "url",
    "host",
    "path",
    "status",
    "duration_ms",
    "request_size",
    "response_size",
    "content_type",
    "tags",
    "error",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TAG_SEPARATOR = ";"


def neutralise(cell: str) -> str:
    """Prefix `'` to a cell a spreadsheet would read as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def tags_cell(tags: list[str]) -> str:
    """Tags joined with `;`, each piece guarded: a spreadsheet in a locale whose list separator
    is `;` (Excel in much of Europe) splits the cell there, a `;` inside a tag included."""
    pieces = TAG_SEPARATOR.join(tags).split(TAG_SEPARATOR)
    return TAG_SEPARATOR.join(neutralise(piece) for piece in pieces)


def row_of(record: FlowRecord) -> list[str]:
    summary = record.summary()
    duration = summary["duration_ms"]
    cells = {
        **summary,
        "duration_ms": "" if duration is None else f"{duration:.1f}",
        "tags": tags_cell(summary["tags"]),
        "error": summary["error"] or "",
    }
    return [neutralise(str(cells[column])) for column in COLUMNS]


def write(out: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(row_of(record))


FORMAT = ExportFormat(
    name="csv",
    suffix=".csv",
    media_type="text/csv",
    needs_bodies=False,
    write=write,
)
