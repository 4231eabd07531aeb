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

from mitmtape.model import FlowRecord, Session, utc_now

EXPORT_CAP = 100_000


@dataclass(frozen=True, slots=True)
class ExportContext:
    """What a writer may want to know besides the records themselves."""

    session: Session
    redact: bool = False
    exported_at: datetime = field(default_factory=utc_now)
    # Flows that matched the filters, before the cap: a writer may say how many were left out.
    matched: int = 0
    cap: int = EXPORT_CAP


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

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name.upper())
