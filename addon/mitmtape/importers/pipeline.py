"""The import loop shared by every format: entries → records → batches in the store.

A format module only turns one parsed entry into a record; this loop owns what must be the same
for all of them: the error log, batching, cancelling, and what is left in the store when the
file turns out to be broken half-way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson

from mitmtape.importers.guard import MAX_JSON_DEPTH, JsonGuard
from mitmtape.importers.ranges import check_record
from mitmtape.importers.rowwriter import RowWriter, WriterLost
from mitmtape.importers.sniff import EntryError, ImportFailed, Source
from mitmtape.model import FlowRecord, new_id
from mitmtape.store import Store, StoreError
from mitmtape.store.rows import rows_of

logger = logging.getLogger(__name__)

ERRORS_KEPT = 100
IMPORT_BATCH = 500
# A batch is also written once its bodies reach this size, so a file of large bodies does not
# hold 500 of them in memory at once (two batches at most: one gathered, one being written).
IMPORT_BATCH_BYTES = 16 * 1024 * 1024
# How long a batch waits for the writer child to be ready before it is written here instead
# (0: never waits; the child takes over from the first batch after it is up).
WRITER_READY_WAIT_S = 0.0
CANCEL_CHECK_EVERY = 100


class ImportCancelled(ImportFailed):
    pass


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
        self.note(index, reason)

    def note(self, index: int, message: str) -> None:
        """Keep a message about an entry that was imported all the same (a value dropped)."""
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(f"entry {index}: {message}")

    def to_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "errors": list(self.errors)}


Convert = Callable[[Any], FlowRecord]


@dataclass(frozen=True, slots=True)
class Importer:
    """A format: how to find its entries in the stream and how to turn one into a record.

    `sniff` tells from the file's first bytes (white space stripped) whether it holds this
    format, for auto-detection; `described` names what it looks for ("HAR object") in the
    refusal of a file no format claims; `suffixes` are the file names auto-detection takes.
    `check` looks at the head of the file and refuses it (ImportFailed) before parsing; `entries`
    yields the parsed entries one at a time; `cap` bounds how many a file may bring in.
    """

    name: str
    sniff: Callable[[bytes], bool]
    described: str
    suffixes: tuple[str, ...]
    check: Callable[[Source], None]
    entries: Callable[[Source], Iterator[Any]]
    convert: Convert
    cap: int | None = None
    cap_message: str = ""
    # Auto-detect takes this format under any file name when its `sniff` claims the head
    # (`mitmdump -w flows` writes a flow file with no suffix of its own).
    any_name: bool = False


OnWritten = Callable[[list[FlowRecord]], None]


def stamp(record: FlowRecord, session_id: str, import_source: str) -> FlowRecord:
    """What every imported flow gets: a fresh id, the target session, `source: import`."""
    record.id = new_id()
    record.session_id = session_id
    record.source = "import"
    record.metadata["import_source"] = import_source
    return record


def convert_entry(importer: Importer, entry: Any) -> tuple[FlowRecord, list[str]]:
    """One entry as a record within range, and the notes on values dropped from it.

    Any failure becomes an EntryError, never an aborted import.
    """
    try:
        record = importer.convert(entry)
        return record, check_record(record)
    except EntryError:
        raise
    except Exception as exc:  # a malformed entry may fail anywhere; it must not stop the rest
        raise EntryError(str(exc) or type(exc).__name__) from None


class _Batch:
    """Records gathered into batches and written in order, one transaction each.

    Once a first batch is full, a `RowWriter` child starts beside the import; when it is ready,
    each later batch goes to it while the next one is read (and converted) here. Should it go
    away, the import writes on by itself.
    """

    def __init__(self, store: Store, on_written: OnWritten | None = None) -> None:
        self.store = store
        self.on_written = on_written
        self.records: list[FlowRecord] = []
        self.body_bytes = 0
        self.written = 0
        self.writer: RowWriter | None = None
        self.alone = False  # no child (again): it could not start, or went away
        self.in_flight: list[FlowRecord] = []

    def add(self, record: FlowRecord) -> None:
        self.records.append(record)
        self.body_bytes += record.request_size + record.response_size
        if len(self.records) >= IMPORT_BATCH or self.body_bytes >= IMPORT_BATCH_BYTES:
            self.hand_over(more=True)

    def hand_over(self, more: bool) -> None:
        """Write the batch gathered: through the child once it is ready, else here.
        `more` says more batches may follow, worth starting the child for."""
        records, self.records, self.body_bytes = self.records, [], 0
        if not records:
            return
        if more:
            self.start_writer()
        self.settle()
        if self.writer is None or not self.writer.ready(WRITER_READY_WAIT_S):
            self.done(records, self.store.add_flows(records))
            return
        try:
            self.writer.send(rows_of(records))
        except WriterLost:
            self.write_alone(records)
            return
        self.in_flight = records

    def start_writer(self) -> None:
        if self.writer is not None or self.alone:
            return
        try:
            self.writer = RowWriter(self.store.location)
        except OSError as exc:
            logger.info("mitmtape: no writer process for the import (%s); writing here", exc)
            self.alone = True

    def settle(self) -> None:
        """Wait for the batch the child holds, if any; raises StoreError (or StoreUnavailable)
        with the child's reason when the store refused it."""
        if not self.in_flight or self.writer is None:
            return
        records, self.in_flight = self.in_flight, []
        try:
            written = self.writer.wait()
        except WriterLost:
            self.write_alone(records)
            return
        self.done(records, written)

    def write_alone(self, records: list[FlowRecord]) -> None:
        """The child went away holding `records`, committed or not: those not stored yet are
        written here, and so is the rest of the import."""
        assert self.writer is not None
        self.writer.close()
        self.writer, self.alone = None, True
        self.store.add_new_flows(records)
        stored = self.store.existing_flow_ids([record.id for record in records])
        self.done(records, len(stored))

    def done(self, records: list[FlowRecord], written: int) -> None:
        self.written += written
        if self.on_written is not None:
            self.on_written(records)

    def finish(self) -> None:
        self.hand_over(more=False)
        self.settle()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
            too_deep = source.guard.unclaimed() and source.guard.claim(entry) > 0
            if importer.cap is not None and index >= importer.cap:
                left_out += 1
                continue
            try:
                if too_deep:
                    raise EntryError(f"nested deeper than {MAX_JSON_DEPTH} levels")
                record, notes = convert_entry(importer, entry)
            except EntryError as exc:
                result.report(index, str(exc))
                continue
            for note in notes:
                result.note(index, note)
            batch.add(stamp(record, session_id, importer.name))
        _check_structure(source.guard)
        batch.finish()
    except ijson.JSONError as exc:
        raise _failed(ImportFailed, source, _json_reason(exc, source.guard), batch) from None
    except UnicodeDecodeError:
        reason = "not UTF-8 text (a string holds bytes that are not UTF-8)"
        raise _failed(ImportFailed, source, reason, batch) from None
    except ImportFailed as exc:
        reason = exc.message.removeprefix(f"{source.name}: ")
        raise _failed(type(exc), source, reason, batch) from None
    finally:
        batch.close()
    result.imported = batch.written
    if left_out:
        result.skipped += left_out
        result.errors[ERRORS_KEPT - 1 :] = [importer.cap_message.format(left_out=left_out)]
    return result


def _check_structure(guard: JsonGuard) -> None:
    """A value replaced for its depth that no entry held was in the file's own structure."""
    deep = guard.first_deep
    if guard.unclaimed() and deep is not None:
        raise ImportFailed(
            f"nesting {deep.depth:,} levels deep at byte {deep.offset:,}; "
            f"the limit is {MAX_JSON_DEPTH} levels"
        )


# yajl's messages, as a person reads them.
JSON_REASONS = {
    "invalid char in json text": "unexpected character",
    "invalid string in json text": "unexpected word (only true, false and null are words)",
    "trailing garbage": "more data after the end of the JSON",
    "invalid bytes in UTF8 string": "bytes that are not UTF-8 in a string",
    "unallowed token at this point in JSON text": "a value or sign out of place",
}


def _json_reason(exc: Exception, guard: JsonGuard) -> str:
    """One plain sentence: what yajl found wrong and at which byte of the file."""
    message = exc.args[0] if exc.args else ""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "premature EOF" in first:
        return "not valid JSON: the file ends in the middle of the JSON (truncated?)"
    reason = first.split(": ", 1)[-1].rstrip(".")
    reason = JSON_REASONS.get(reason, reason)
    offset = guard.error_offset(message)
    where = "" if offset is None else f" at byte {offset:,}"
    return f"not valid JSON{where}: {reason}"


def _failed(kind: type[ImportFailed], source: Source, reason: str, batch: _Batch) -> ImportFailed:
    try:
        batch.settle()  # the batch the child holds is kept, and counted
    except StoreError as exc:
        reason = f"{reason}; and the last batch was not written: {exc}"
    return kind(f"{source.name}: {reason}", kept=batch.written)
