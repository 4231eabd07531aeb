"""A writer thread that commits flow records in batches, so the proxy never waits on the disk."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from mitmtape.model import FlowRecord
from mitmtape.store import Store

WRITE_BATCH = 500
WRITE_INTERVAL_S = 0.1

logger = logging.getLogger(__name__)


class _Flush:
    """A marker in the queue: everything before it is committed when `done` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop(_Flush):
    pass


class FlowWriter:
    """Takes records from any thread; one background thread commits them.

    A batch is committed when it reaches `WRITE_BATCH` records or `WRITE_INTERVAL_S` after its
    first record, whichever comes first, in one transaction: a crash loses at most that batch.
    `on_written` is called on the writer thread with each committed batch.
    """

    def __init__(
        self,
        store: Store,
        on_written: Callable[[list[FlowRecord]], None] | None = None,
        batch_size: int = WRITE_BATCH,
        interval: float = WRITE_INTERVAL_S,
    ) -> None:
        self.store = store
        self.on_written = on_written
        self.batch_size = batch_size
        self.interval = interval
        self.written = 0
        self._queue: queue.SimpleQueue[FlowRecord | _Flush] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mitmtape-writer", daemon=True)
        self._thread.start()

    def submit(self, record: FlowRecord) -> None:
        """Queue a record; never blocks."""
        self._queue.put(record)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything submitted so far is committed; False on timeout."""
        if not self._thread.is_alive():
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        marker = _Stop()
        self._queue.put(marker)
        marker.done.wait(timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch, marker = self._collect()
            if batch:
                self._commit(batch)
            if marker is not None:
                marker.done.set()
                if isinstance(marker, _Stop):
                    return

    def _collect(self) -> tuple[list[FlowRecord], _Flush | None]:
        """Gather a batch: block for the first item, then take more until size or time is up."""
        first = self._queue.get()
        if isinstance(first, _Flush):
            return [], first
        batch = [first]
        deadline = time.monotonic() + self.interval
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(item, _Flush):
                return batch, item
            batch.append(item)
        return batch, None

    def _commit(self, batch: list[FlowRecord]) -> None:
        try:
            self.written += self.store.add_flows(batch)
        except Exception:
            logger.exception("mitmtape could not write %d flows to %s", len(batch), self.store.path)
            return
        if self.on_written is not None:
            self.on_written(batch)
