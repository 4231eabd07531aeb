"""mitmtape JSON export: the lossless array of flow records, oldest first.

The file is what `json.dumps(records, indent=2)` would print, but written one record at a time
(`jsonstream.write_json_array`), so a session of any size needs the memory of one record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.jsonstream import write_json_array
from mitmtape.model import FlowRecord


def write(out: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    write_json_array(out, (record.to_json() for record in records))
    out.write("\n")


FORMAT = ExportFormat(
    name="json",
    suffix=".json",
    media_type="application/json",
    needs_bodies=True,
    write=write,
)
