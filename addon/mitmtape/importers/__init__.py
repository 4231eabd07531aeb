"""Import HAR and mitmtape JSON files into sessions (spec section 4).

One entry point for every door: `import_file` into an existing session, `import_new_session`
for the drag-and-drop flow that makes a session `{file name} (imported)` and removes it again
when the import fails. Formats are looked up in `IMPORTERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from mitmtape.importers.formats import AUTO, IMPORTERS, importer_for
from mitmtape.importers.jsonfile import JSON_IMPORT_CAP
from mitmtape.importers.pipeline import (
    ERRORS_KEPT,
    ImportCancelled,
    ImportResult,
    OnWritten,
    run_import,
)
from mitmtape.importers.sniff import (
    IMPORT_FILE_LIMIT,
    FileTooLarge,
    ImportFailed,
    Source,
)
from mitmtape.model import Session
from mitmtape.store import Store

__all__ = [
    "ERRORS_KEPT",
    "IMPORTERS",
    "IMPORT_FILE_LIMIT",
    "JSON_IMPORT_CAP",
    "FileTooLarge",
    "ImportCancelled",
    "ImportFailed",
    "ImportResult",
    "import_file",
    "import_new_session",
]


PathOrStream = str | os.PathLike[str] | BinaryIO


def _open(file: PathOrStream, name: str | None) -> Source:
    if isinstance(file, (str, os.PathLike)):
        return Source.open(file)
    return Source(file, name or getattr(file, "name", None) or "upload")


def file_name(file: PathOrStream, name: str | None = None) -> str:
    """The name a person knows the file by: `name`, else the path's last part."""
    if name:
        return name
    if isinstance(file, (str, os.PathLike)):
        return Path(file).name
    return Path(str(getattr(file, "name", "") or "upload")).name


def import_file(
    store: Store,
    file: PathOrStream,
    session_id: str,
    format: str = AUTO,
    cancel: Callable[[], bool] | None = None,
    name: str | None = None,
    on_written: OnWritten | None = None,
) -> ImportResult:
    """Import a file (a path or a binary stream) into an existing session.

    `format` is `har`, `json` or `auto` (only `.har`/`.json` names; the first bytes decide).
    Raises ImportFailed for a file refused as a whole; batches written before a failure stay
    and the exception's `kept` counts them.
    """
    session = store.get_session(session_id)
    with _open(file, file_name(file, name)) as source:
        importer = importer_for(source, format)
        return run_import(importer, store, source, session.id, cancel, on_written)


def import_new_session(
    store: Store,
    file: PathOrStream,
    format: str = AUTO,
    cancel: Callable[[], bool] | None = None,
    name: str | None = None,
    on_written: OnWritten | None = None,
) -> tuple[Session, ImportResult]:
    """Import into a new session `{file name} (imported)`; on any failure it is deleted again."""
    label = file_name(file, name)
    session = store.create_session(_free_name(store, label), f"Imported from {label}")
    try:
        result = import_file(store, file, session.id, format, cancel, label, on_written)
    except BaseException as exc:
        store.delete_session(session.id)
        if isinstance(exc, ImportFailed):
            exc.kept = 0
        raise
    return store.get_session(session.id), result


def _free_name(store: Store, label: str) -> str:
    """`{label} (imported)`; the same file imported again gets `(imported 2)`, `(imported 3)`."""
    name, number = f"{label} (imported)", 1
    while store.find_session(name) is not None:
        number += 1
        name = f"{label} (imported {number})"
    return name
