"""The import loop shared by every format: entries → records → batches in the store.

A format module only turns one parsed entry into a record; this loop owns what must be the same
for all of them: the error log, batching, cancelling, and what is left in the store when the
file turns out to be broken half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson

from mitmtape.importers.sniff import ImportFailed, Source
from mitmtape.model import FlowRecord, new_id
from mitmtape.store import Store

ERRORS_KEPT = 100
IMPORT_BATCH = 500
# A batch is also written once its bodies reach this size, so a file of large bodies does not
# hold 500 of them in memory at once.
IMPORT_BATCH_BYTES = 16 * 1024 * 1024
CANCEL_CHECK_EVERY = 100


class ImportCancelled(ImportFailed):
    pass


class EntryError(ValueError):
    """One entry cannot become a record; the import skips it and reports the message."""


@dataclass(slots=True)
class ImportResult:
    """`{imported, skipped, errors}`; a message reads `entry N: reason`, N counting from 0 as
    the index into `log.entries` or the JSON array does (what `jq '.[N]'` shows)."""

    imported: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def report(self, index: int, reason: str) -> None:
        """Count a skipped entry; keep its message while fewer than ERRORS_KEPT are kept."""
        self.skipped += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(f"entry {index}: {reason}")

    def to_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "errors": list(self.errors)}


Convert = Callable[[Any], FlowRecord]


@dataclass(frozen=True, slots=True)
class Importer:
    """A format: how to find its entries in the stream and how to turn one into a record.

    `check` looks at the head of the file and refuses it (ImportFailed) before parsing; `entries`
    yields the parsed entries one at a time; `cap` bounds how many a file may bring in.
    """

    name: str
    check: Callable[[Source], None]
    entries: Callable[[Source], Iterator[Any]]
    convert: Convert
    cap: int | None = None
    cap_message: str = ""


OnWritten = Callable[[list[FlowRecord]], None]


def stamp(record: FlowRecord, session_id: str, import_source: str) -> FlowRecord:
    """What every imported flow gets: a fresh id, the target session, `source: import`."""
    record.id = new_id()
    record.session_id = session_id
    record.source = "import"
    record.metadata["import_source"] = import_source
    return record


def convert_entry(importer: Importer, entry: Any) -> FlowRecord:
    """One entry as a record; any failure becomes an EntryError, never an aborted import."""
    try:
        return importer.convert(entry)
    except EntryError:
        raise
    except Exception as exc:  # a malformed entry may fail anywhere; it must not stop the rest
        raise EntryError(str(exc) or type(exc).__name__) from None


class _Batch:
    def __init__(self, store: Store, on_written: OnWritten | None = None) -> None:
        self.store = store
        self.on_written = on_written
        self.records: list[FlowRecord] = []
        self.body_bytes = 0
        self.written = 0

    def add(self, record: FlowRecord) -> None:
        self.records.append(record)
        self.body_bytes += record.request_size + record.response_size
        if len(self.records) >= IMPORT_BATCH or self.body_bytes >= IMPORT_BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.records:
            self.written += self.store.add_flows(self.records)
            if self.on_written is not None:
                self.on_written(self.records)
        self.records, self.body_bytes = [], 0


def run_import(
    importer: Importer,
    store: Store,
    source: Source,
    session_id: str,
    cancel: Callable[[], bool] | None = None,
    on_written: OnWritten | None = None,
) -> ImportResult:
    """Import every entry of `source` into a session; per-entry problems are reported.

    `on_written` hears each committed batch (the addon shows them in mitmproxy's flow list).

    A file-level failure (bad JSON, truncated file, over the size limit, cancelled) raises
    ImportFailed after the batches already written; its `kept` says how many flows stayed.
    Entries past the importer's cap are counted in `skipped` with one message saying so.
    """
    importer.check(source)
    result = ImportResult()
    batch = _Batch(store, on_written)
    left_out = 0
    try:
        for index, entry in enumerate(importer.entries(source)):
            if cancel is not None and index % CANCEL_CHECK_EVERY == 0 and cancel():
                raise ImportCancelled(f"{source.name}: import cancelled")
            if importer.cap is not None and index >= importer.cap:
                left_out += 1
                continue
            try:
                record = convert_entry(importer, entry)
            except EntryError as exc:
                result.report(index, str(exc))
                continue
            batch.add(stamp(record, session_id, importer.name))
        batch.flush()
    except ijson.JSONError as exc:
        raise _failed(ImportFailed, source, f"not valid JSON: {_json_reason(exc)}", batch) from None
    except UnicodeDecodeError:
        raise _failed(ImportFailed, source, "not UTF-8 text", batch) from None
    except ImportFailed as exc:
        reason = exc.message.removeprefix(f"{source.name}: ")
        raise _failed(type(exc), source, reason, batch) from None
    result.imported = batch.written
    if left_out:
        result.skipped += left_out
        result.errors[ERRORS_KEPT - 1 :] = [importer.cap_message.format(left_out=left_out)]
    return result


def _json_reason(exc: Exception) -> str:
    text = str(exc).strip()
    if isinstance(exc, ijson.IncompleteJSONError) and "premature EOF" in text:
        return "the file ends in the middle of the JSON (truncated?)"
    return text.splitlines()[0] if text else type(exc).__name__


def _failed(kind: type[ImportFailed], source: Source, reason: str, batch: _Batch) -> ImportFailed:
    return kind(f"{source.name}: {reason}", kept=batch.written)
