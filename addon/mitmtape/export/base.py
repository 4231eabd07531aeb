"""What every export format is: a name, a file suffix, a media type and a streaming writer.

A writer is pure: it reads records from an iterator and writes text to a stream. It never opens
the database or touches mitmproxy objects; the pipeline does the selecting, capping and
cancelling, and hands the writer records oldest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from mitmtape.export.redaction import Tally
from mitmtape.model import FlowRecord, Session, utc_now

EXPORT_CAP = 100_000


@dataclass(frozen=True, slots=True)
class ExportContext:
    """What a writer may want to know besides the records themselves."""

    session: Session
    exported_at: datetime = field(default_factory=utc_now)
    # Flows that matched the filters, before the cap: a writer may say how many were left out.
    matched: int = 0
    cap: int = EXPORT_CAP
    # The name of the file being written: a format may pick its dialect by it (OpenAPI: YAML
    # when it ends in `.yaml`).
    file_name: str = ""
    # What redaction masked, when it is on; complete only once the records have been read,
    # so a streaming writer says it at the end of its file.
    redaction: Tally | None = None


Writer = Callable[[TextIO, Iterator[FlowRecord], ExportContext], None]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str
    # Ends the default file name `{session}_{time}{suffix}`: `.har`, `_postman_collection.json`.
    suffix: str
    media_type: str
    # Formats that print no body (CSV, the report) are handed records without body bytes
    # (sizes still right), so they never load one.
    needs_bodies: bool
    write: Writer
    cap: int = EXPORT_CAP
    label: str = ""  # for people: "HAR", "Postman"; the upper-case name when empty
    # A file made to be shared (HAR, Postman, the report): the web page's export dialog ticks
    # redaction for it by default; an archive (JSON) stays lossless unless asked.
    shared: bool = False
    # A binary format's writer gets a byte stream (mitmproxy's flow file), the others text.
    binary: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name.upper())
