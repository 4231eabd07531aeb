"""Export pipeline: session → filtered records in batches → a format writer → file → artifact.

The writer streams into a hidden temporary file beside the destination, which replaces the
destination only when everything is written: a cancelled or failed export leaves no
half-written file behind, and an older file of the same name stays as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.formats import FORMAT_NAMES, format_named
from mitmtape.export.redaction import RedactMode, Tally, parse_mode, redacted, redaction_for
from mitmtape.model import FlowRecord, Session, format_time, new_id, utc_now
from mitmtape.store import NO_FILTER, Artifact, FlowFilter, Store
from mitmtape.text import count, human_size

EXPORT_BATCH = 5_000
ARTIFACT_MAX_BYTES = 20 * 1024 * 1024
ARTIFACT_TYPE = "session_export"
# Kept exports per session (option `tape_artifacts_keep`, CLI `--artifacts-keep`): without a
# bound, every export of a busy session would stay in the database for good.
ARTIFACTS_KEEP = 20
UNSAFE_FILE_NAME_CHARACTERS = re.compile(r'[/\\:*?"<>|\s\x00-\x1f\x7f]')
FALLBACK_FILE_NAME = "session"

RecordPredicate = Callable[[FlowRecord], bool]


def _read_umask() -> int:
    """The process's umask: only settable to be read, so set and put back once, at import."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# An export gets the permissions any program's new file gets, not mkstemp's 0600.
FILE_MODE = 0o666 & ~_read_umask()


class ExportError(Exception):
    """An export that cannot be made; the message names the format, file or session."""


class ExportCancelled(ExportError):
    pass


def check_artifacts_keep(keep: int) -> int:
    """The number of kept exports per session, refused when negative (0 keeps none)."""
    if keep < 0:
        raise ExportError(
            f"the number of artifacts to keep per session must be 0 or more, got {keep}"
        )
    return keep


@dataclass(slots=True)
class ExportOptions:
    flow_filter: FlowFilter = NO_FILTER
    # A compiled mitmproxy filter expression (see `record.compile_expression`); runs in Python
    # on each record that passed the SQL filters.
    matches: RecordPredicate | None = None
    # `False`, `True` or `"strict"` (JWTs masked whole); names and body patterns count only
    # when redaction is on.
    redact: RedactMode = False
    redact_names: tuple[str, ...] = ()
    redact_bodies: tuple[str, ...] = ()
    cap: int | None = None  # None: the format's own cap (100,000; the report 10,000)
    batch_size: int = EXPORT_BATCH
    keep_artifact: bool = True
    # The newest kept exports of the session (of selections: of all selections) stay, up to
    # this many; older ones go when a new one is kept. 0: none is kept.
    artifacts_keep: int = ARTIFACTS_KEEP
    cancelled: Callable[[], bool] | None = None
    progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        check_artifacts_keep(self.artifacts_keep)
        try:
            self.redact = parse_mode(self.redact)
        except ValueError as exc:
            raise ExportError(str(exc)) from None


@dataclass(slots=True)
class ExportResult:
    format: ExportFormat
    path: Path
    flows: int
    matched: int
    size: int
    artifact: Artifact | None
    # What redaction masked, by kind (`KINDS`); None when redaction was off.
    redacted: Tally | None = None

    @property
    def left_out(self) -> int:
        return self.matched - self.flows

    @property
    def warning(self) -> str | None:
        """Said whenever the cap cut the export short."""
        if self.left_out <= 0:
            return None
        return (
            f"the {self.format.name} export stops at {self.flows:,} flows: "
            f"{self.left_out:,} of {self.matched:,} matching flows were left out"
        )

    def message(self) -> str:
        text = f"Exported {count(self.flows, 'flow')} to {self.path} ({human_size(self.size)})"
        if self.redacted is not None:
            text = f"{text}; redacted {self.redacted.text()}"
        return f"{text}; {self.warning}" if self.warning else text


def get_format(name: str) -> ExportFormat:
    found = format_named(name)
    if found is None:
        known = ", ".join(FORMAT_NAMES)
        raise ExportError(f"unknown export format {name!r}; choose one of {known}")
    return found


def safe_file_stem(name: str) -> str:
    """A session name made safe as a file name: unsafe characters become `_`."""
    stem = UNSAFE_FILE_NAME_CHARACTERS.sub("_", name)
    return FALLBACK_FILE_NAME if not stem.strip("_") else stem


def default_file_name(session_name: str, export_format: ExportFormat, moment: datetime) -> str:
    """`{session name}_{YYYY-MM-DD-HHMMSS}{suffix}`, e.g. `API_Tests_2025-03-08-143022.har`."""
    stamp = moment.astimezone().strftime("%Y-%m-%d-%H%M%S")
    return f"{safe_file_stem(session_name)}_{stamp}{export_format.suffix}"


def resolve_destination(path: str | os.PathLike[str], default_name: str) -> Path:
    """An existing folder (or a path ending in a separator) gets the default name inside it."""
    text = os.fspath(path)
    target = Path(text).expanduser()
    if target.is_dir() or text.endswith(("/", os.sep)):
        return target / default_name
    return target


def export_session(
    store: Store,
    session_ref: str,
    format_name: str,
    destination: str | os.PathLike[str],
    options: ExportOptions | None = None,
) -> ExportResult:
    """Export one session (by id or exact name) to `destination` (a file or a folder)."""
    options = options or ExportOptions()
    session = store.get_session(session_ref)
    export_format = get_format(format_name)
    needs_bodies = export_format.needs_bodies or options.matches is not None

    def batches() -> Iterator[list[FlowRecord]]:
        return store.iter_flow_batches(
            session.id, options.flow_filter, options.batch_size, needs_bodies
        )

    if options.matches is None:
        matched = store.count_flows(session.id, options.flow_filter)
    else:
        matched = sum(1 for batch in batches() for record in batch if options.matches(record))
    return _export(store, batches(), session, export_format, destination, options, matched)


def export_records(
    store: Store,
    records: Iterable[FlowRecord],
    session: Session,
    format_name: str,
    destination: str | os.PathLike[str],
    options: ExportOptions | None = None,
) -> ExportResult:
    """Export records that are already in hand (a selection of flows in mitmproxy's view)."""
    options = options or ExportOptions()
    chosen = list(records)
    if options.matches is not None:
        chosen = [record for record in chosen if options.matches(record)]
    size = options.batch_size
    batches = (chosen[start : start + size] for start in range(0, len(chosen), size))
    export_format = get_format(format_name)
    return _export(store, batches, session, export_format, destination, options, len(chosen))


def _export(
    store: Store,
    batches: Iterator[list[FlowRecord]],
    session: Session,
    export_format: ExportFormat,
    destination: str | os.PathLike[str],
    options: ExportOptions,
    matched: int,
) -> ExportResult:
    cap = export_format.cap if options.cap is None else options.cap
    moment = utc_now()
    target = resolve_destination(
        destination, default_file_name(session.name, export_format, moment)
    )
    redaction = redaction_for(options.redact, options.redact_names, options.redact_bodies)
    masked = None if redaction is None else Tally()
    context = ExportContext(
        session=session,
        exported_at=moment,
        matched=matched,
        cap=cap,
        file_name=target.name,
        redaction=masked,
    )
    chosen, tally = _capped(batches, options, min(cap, matched))
    if redaction is not None and masked is not None:
        chosen = redacted(chosen, redaction, masked)
    written = _write_atomically(target, export_format, (chosen, tally), context)
    size = target.stat().st_size
    artifact = None
    if options.keep_artifact and size <= ARTIFACT_MAX_BYTES:
        artifact = _keep_artifact(
            store, _artifact(session, export_format, target, written, size, moment), options
        )
    return ExportResult(export_format, target, written.count, matched, size, artifact, masked)


@dataclass(slots=True)
class _Tally:
    """How many records the writer has been handed so far."""

    count: int = 0


def _capped(
    batches: Iterator[list[FlowRecord]], options: ExportOptions, total: int
) -> tuple[Iterator[FlowRecord], _Tally]:
    """Records up to the cap, checking for cancellation between batches."""
    tally = _Tally()

    def records() -> Iterator[FlowRecord]:
        for batch in batches:
            if options.cancelled is not None and options.cancelled():
                raise ExportCancelled("export cancelled; no file was written")
            for record in batch:
                if tally.count >= total:
                    return
                if options.matches is None or options.matches(record):
                    tally.count += 1
                    yield record
            if options.progress is not None:
                options.progress(tally.count, total)
            if tally.count >= total:
                return

    return records(), tally


def _write_atomically(
    target: Path,
    export_format: ExportFormat,
    selection: tuple[Iterator[FlowRecord], _Tally],
    context: ExportContext,
) -> _Tally:
    records, tally = selection
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Closed by the `with handle` below; a context manager here would delete it too soon.
        text = {} if export_format.binary else {"encoding": "utf-8", "newline": ""}
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "wb" if export_format.binary else "w",
            **text,
            dir=target.parent,
            prefix=f".{target.name}.",
            suffix=".partial",
            delete=False,
        )
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        os.chmod(handle.name, FILE_MODE)
        with handle:
            export_format.write(handle, records, context)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return tally


def _keep_artifact(store: Store, artifact: Artifact, options: ExportOptions) -> Artifact | None:
    """Store the export and drop the session's oldest beyond the limit, in one transaction."""
    if options.artifacts_keep == 0:
        store.prune_artifacts(artifact.type, artifact.session_id, 0)
        return None
    return store.add_artifact(artifact, keep=options.artifacts_keep)


def _artifact(
    session: Session,
    export_format: ExportFormat,
    path: Path,
    written: _Tally,
    size: int,
    moment: datetime,
) -> Artifact:
    return Artifact(
        id=new_id(),
        type=ARTIFACT_TYPE,
        session_id=session.id or None,
        title=f"{session.name} — {export_format.label} Export",
        summary=f"{count(written.count, 'flow')}, {human_size(size)}",
        file_name=path.name,
        media_type=export_format.media_type,
        size=size,
        metadata={
            "flow_count": written.count,
            "session_name": session.name,
            "format": export_format.name,
        },
        created_at=format_time(moment),
        content=path.read_bytes(),
    )
