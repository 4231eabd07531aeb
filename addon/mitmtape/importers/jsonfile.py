"""mitmtape JSON import: the array the JSON export writes, one flow object at a time.

The 50,000-flow cap: the first 50,000 flows of a larger file are imported and the rest are
counted in `skipped` with one message saying the file was cut. Parsing streams, so the size of
a file is only known at its end; keeping what fits is also what a person who exported a big
session wants, rather than nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ijson

from mitmtape.importers.pipeline import Importer
from mitmtape.importers.sniff import ImportFailed, Source, looks_like_har
from mitmtape.model import FlowRecord

JSON_IMPORT_CAP = 50_000
CAP_MESSAGE = (
    f"entries {JSON_IMPORT_CAP} and later: not imported, at most {JSON_IMPORT_CAP:,} flows "
    "per JSON file ({left_out:,} left out)"
)


def check(source: Source) -> None:
    """By the first non-space byte: `[` is ours; a HAR object is sent to the HAR import."""
    first = source.first_byte()
    if not first:
        raise ImportFailed(f"{source.name}: the file is empty")
    if first == b"[":
        return
    if first == b"{" and looks_like_har(source.head.lstrip()):
        raise ImportFailed(
            f"{source.name}: this looks like a HAR file — use the HAR import instead"
        )
    if first == b"{":
        raise ImportFailed(
            f"{source.name}: invalid JSON format — expected an array of flow objects "
            "(starts with [)"
        )
    raise ImportFailed(f"{source.name}: invalid format — not a JSON array of flows")


def entries(source: Source) -> Iterator[Any]:
    return ijson.items(source, "item", use_float=True)


JSON = Importer(
    name="json",
    sniff=lambda head: head[:1] == b"[",
    described="JSON array",
    suffixes=(".json",),
    check=check,
    entries=entries,
    # Validation is the record's own: a request with a method and an absolute URL.
    convert=FlowRecord.from_json,
    cap=JSON_IMPORT_CAP,
    cap_message=CAP_MESSAGE,
)
