"""An import's writing half in a child process, so a file is parsed while its last batch commits.

Turning a file into records and writing them (SQLite's B-trees, or a server's client) cost
about the same CPU; in one process they take turns under one interpreter lock. An importer
hands each batch's rows (`rows_of`: plain tuples, cheap to pickle) to this child, which writes
them in one transaction into the same database while the importer reads on. One batch is in
flight at a time and the importer waits for it before it sends the next, so at every batch
boundary it knows what was written, and it stops at one (a broken file, a cancel, a signal)
with no transaction cut.

The child needs a moment to start; until it says it is ready, the importer writes batches
itself, so a small import never waits for it. The child's side is `rowchild.py`, a module
nothing imports (run by `python -m`, it must not be loaded already by its package).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import select
import subprocess
from typing import Any

from mitmtape.store import StoreError, StoreUnavailable
from mitmtape.store.child import spawn
from mitmtape.store.rows import RowBatch

# How long `close` waits for the child to commit what it holds and exit.
CLOSE_WAIT_S = 60.0
LOST = "the import's writer process ended before the import did"

logger = logging.getLogger(__name__)


class WriterLost(StoreError):
    """The child went away (killed, out of memory): the batch it held may or may not be
    committed, and the importer writes on by itself."""


class RowWriter:
    """The importer's side: start the child, hand it batches, hear what each wrote.

    Starting it may raise OSError (no more processes allowed): the importer then writes itself.
    """

    def __init__(self, location: str) -> None:
        self._child = spawn("mitmtape.importers.rowchild", [], location)
        self._ready = False
        self._failed = False
        self._in_flight = False

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether the child has opened the database, waiting up to `timeout` seconds to hear.

        A child that cannot open it says why (logged) and is not used.
        """
        if self._ready or self._failed:
            return self._ready
        assert self._child.stdout is not None
        heard, _, _ = select.select([self._child.stdout], [], [], timeout)
        if heard:
            kind, value = self._reply()
            self._ready = kind == "ready"
            self._failed = not self._ready
            if self._failed:
                logger.info("mitmtape: %s; the import writes in its own process", value)
        return self._ready

    def send(self, batch: RowBatch) -> None:
        """Hand one batch over; `wait` says what became of it (one batch at a time)."""
        assert self._child.stdin is not None and not self._in_flight
        try:
            pickle.dump(batch, self._child.stdin, pickle.HIGHEST_PROTOCOL)
            self._child.stdin.flush()
        except OSError:
            raise WriterLost(LOST) from None
        self._in_flight = True

    def wait(self) -> int:
        """The flows the batch in flight wrote (0 when none is). Raises StoreUnavailable or
        StoreError with the child's one-line reason, WriterLost when it went away."""
        if not self._in_flight:
            return 0
        self._in_flight = False
        kind, value = self._reply()
        if kind == "written":
            return int(value)
        if kind == "unavailable":
            raise StoreUnavailable(value)
        if kind == "lost":
            raise WriterLost(value)
        raise StoreError(value)

    def close(self) -> None:
        """End the child's input: it commits what it holds and exits. One that never became
        ready holds nothing and is not waited for."""
        if not self._ready:
            self._child.kill()
        if self._child.stdin is not None:
            with contextlib.suppress(OSError):  # the child is gone already
                self._child.stdin.close()
        try:
            self._child.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        if self._child.stdout is not None:
            self._child.stdout.close()

    def _reply(self) -> tuple[str, Any]:
        assert self._child.stdout is not None
        try:
            kind, value = pickle.load(self._child.stdout)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            return "lost", LOST
        return kind, value
