"""The flow writer: a child process that commits flows in batches, so the proxy never waits.

Building records, encoding JSON and SQLite all cost CPU under Python's global lock; done in a
thread of mitmproxy's process they would slow its event loop. So the proxy side only pickles a
wire snapshot of each flow (`submit` never blocks), a sender thread writes those onto the
child's stdin every `SEND_INTERVAL_S`, and the child does the rest. The child commits a batch
when it reaches `WRITE_BATCH` flows or `WRITE_INTERVAL_S` after its first flow, in one
transaction; when the proxy dies (even by SIGKILL) the child reads end-of-file, commits what it
has and exits. The child runs at a lower CPU priority, so on a busy machine the proxy comes
first.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mitmtape.model import FlowRecord
from mitmtape.record import snapshot_from_wire
from mitmtape.snapshot import WireSnapshot
from mitmtape.store import Store

WRITE_BATCH = 500
WRITE_INTERVAL_S = 0.1
SEND_INTERVAL_S = 0.05
PACKAGE_ROOT = Path(__file__).resolve().parent.parent

logger = logging.getLogger(__name__)

WrittenCallback = Callable[[list[dict[str, Any]]], None]
Item = tuple[str, WireSnapshot | FlowRecord]


class FlowWriter:
    """The proxy's side: queue flows for the child, wait for flushes, hear what was written.

    `on_written` is called (on a listener thread) with the summaries of each committed batch.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        on_written: WrittenCallback | None = None,
        batch_size: int = WRITE_BATCH,
        interval: float = WRITE_INTERVAL_S,
    ) -> None:
        self.on_written = on_written
        self.written = 0
        self._tokens = itertools.count()
        self._waiting: dict[int, threading.Event] = {}
        # Items are pickled as they are queued, so what waits is bytes: the garbage collector
        # never tracks it, and the flow's objects are let go at once, on mitmproxy's thread.
        # The sender drains the queue every SEND_INTERVAL_S: waking a thread per flow would
        # hand the GIL back and forth with mitmproxy's event loop.
        self._pending: collections.deque[bytes] = collections.deque()
        self._wake = threading.Event()
        self._closing = False
        python_path = os.pathsep.join(
            filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])
        )
        self._child = subprocess.Popen(
            [sys.executable, "-m", "mitmtape.writer", os.fspath(db_path), str(batch_size),
             str(interval), "1" if on_written else "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": python_path},
        )  # fmt: skip
        self._sender = threading.Thread(target=self._send, name="mitmtape-sender", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="mitmtape-listen", daemon=True)
        self._sender.start()
        self._listener.start()

    def submit(self, session_id: str, flow: WireSnapshot | FlowRecord) -> None:
        """Queue one flow for `session_id`; never blocks (a pickle and an append)."""
        self._queue(("flow", (session_id, flow)))

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything submitted so far is committed; False on timeout or death."""
        return self._marker("flush", timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit what is queued, then let the child exit."""
        if self._child.poll() is None:
            self._marker("stop", timeout)
            self._closing = True
            self._wake.set()
            self._sender.join(timeout)
            try:
                self._child.wait(timeout)
            except subprocess.TimeoutExpired:
                self._child.kill()
        self._listener.join(timeout)

    def _marker(self, kind: str, timeout: float | None) -> bool:
        if self._child.poll() is not None or not self._sender.is_alive():
            return False
        token = next(self._tokens)
        done = self._waiting[token] = threading.Event()
        self._queue((kind, token))
        self._wake.set()
        return done.wait(timeout)

    def _queue(self, item: tuple[str, Any]) -> None:
        # A deque: its append and popleft are atomic, so no item lands in a batch being sent.
        self._pending.append(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))

    def _send(self) -> None:
        """Every SEND_INTERVAL_S (or when a marker asks), write what is pending onto stdin."""
        assert self._child.stdin is not None
        try:
            while not self._closing:
                self._wake.wait(SEND_INTERVAL_S)
                self._wake.clear()
                pending = self._pending
                chunks = [pending.popleft() for _ in range(len(pending))]
                if chunks:
                    self._child.stdin.write(b"".join(chunks))
                    self._child.stdin.flush()
        except (BrokenPipeError, OSError):
            logger.error("mitmtape: the writer process ended; flows are no longer recorded")
        finally:
            self._child.stdin.close()

    def _listen(self) -> None:
        assert self._child.stdout is not None
        while True:
            try:
                kind, value = pickle.load(self._child.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            if kind == "written":
                count, summaries = value
                self.written += count
                if self.on_written is not None and summaries:
                    self.on_written(summaries)
            elif kind == "done":
                self._waiting.pop(value).set()
            elif kind == "error":
                logger.error("mitmtape: %s", value)
        for event in self._waiting.values():
            event.set()


class _ChildWriter:
    """The child's side: read items, gather batches, commit, report back."""

    def __init__(self, db_path: str, batch_size: int, interval: float, report: bool) -> None:
        self.store = Store(db_path)
        self.batch_size = batch_size
        self.interval = interval
        self.report = report
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.out: IO[bytes] = sys.stdout.buffer

    def reply(self, kind: str, value: Any) -> None:
        pickle.dump((kind, value), self.out, protocol=pickle.HIGHEST_PROTOCOL)
        self.out.flush()

    def read(self) -> None:
        while True:
            try:
                self.inbox.put(pickle.load(sys.stdin.buffer))
            except (EOFError, OSError, pickle.UnpicklingError):
                self.inbox.put(None)  # the proxy is gone: commit and exit
                return

    def run(self) -> None:
        threading.Thread(target=self.read, daemon=True).start()
        while True:
            batch, marker = self.collect()
            if batch:
                self.commit(batch)
            if marker is None:
                continue
            if marker == "eof":
                return
            kind, token = marker
            self.reply("done", token)
            if kind == "stop":
                return

    def collect(self) -> tuple[list[Item], Any]:
        """Block for the first item, then take more until the batch is full or time is up."""
        batch: list[Item] = []
        deadline = None
        while len(batch) < self.batch_size:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                break
            if item is None:
                return batch, "eof"
            kind, value = item
            if kind != "flow":
                return batch, item
            batch.append(value)
            deadline = deadline or time.monotonic() + self.interval
        return batch, None

    def commit(self, batch: list[Item]) -> None:
        try:
            records = [
                flow
                if isinstance(flow, FlowRecord)
                else snapshot_from_wire(flow).to_record(session_id)
                for session_id, flow in batch
            ]
            written = self.store.add_flows(records)
        except Exception as exc:
            self.reply("error", f"could not write {len(batch)} flows: {exc!r}")
            return
        summaries = [record.summary() | {"session_id": record.session_id} for record in records]
        self.reply("written", (written, summaries if self.report else None))


WRITER_NICENESS = 10


def main(argv: list[str]) -> None:
    # A Ctrl-C or a TERM for the proxy's process group must not lose queued flows: the child
    # ends when its input does (the proxy is gone), after committing what it has.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Recording is background work: when the machine is busy, the proxy comes first and the
    # writer catches up in larger batches. (The child stays in the proxy's session, so the
    # scheduler's per-session groups weigh this against the proxy, not against everyone.)
    os.nice(WRITER_NICENESS)
    db_path, batch_size, interval, report = argv
    try:
        writer = _ChildWriter(db_path, int(batch_size), float(interval), report == "1")
    except Exception as exc:
        pickle.dump(("error", f"the writer cannot open {db_path}: {exc}"), sys.stdout.buffer)
        sys.exit(1)
    writer.run()
    writer.store.close()
    sys.stdout.flush()
    # The reader thread may still block on stdin; a normal exit would wait to finalize it.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
