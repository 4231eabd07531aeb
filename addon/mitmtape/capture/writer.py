"""The flow writer: a child process that commits flows in batches, so the proxy never waits.

Making rows, encoding JSON and SQLite all cost CPU under Python's global lock; done in a
thread of mitmproxy's process they would slow its event loop. So the proxy side only pickles a
wire snapshot of each flow (`submit` never blocks), a sender thread writes those onto the
child's stdin every `SEND_INTERVAL_S`, and the child does the rest (`wirerows`: a snapshot
straight to its row). The child commits a batch
when it reaches `WRITE_BATCH` flows or `WRITE_INTERVAL_S` after its first flow, in one
transaction; when the proxy dies (even by SIGKILL) the child reads end-of-file, commits what it
has and exits. The child runs at a lower CPU priority, so on a busy machine the proxy comes
first.

When the database cannot be written (a full disk), the child keeps the flows it could not
commit, up to `WRITE_RETRY_BUFFER_BYTES`, and retries with backoff; it tells the proxy once when
writes start failing and once when they work again, and the proxy logs both at `ALERT`.
Bodies over `SPOOL_BODY_BYTES` travel beside their flow's pickle, written from mitmproxy's own
bytes, so neither process makes a second copy of them.
"""

from __future__ import annotations

import collections
import gc
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
from typing import IO, Any

from mitmproxy.log import ALERT

from mitmtape.capture.snapshot import WireSnapshot
from mitmtape.capture.wirerows import PendingFlow, pending_of_record, pending_of_wire
from mitmtape.model import FlowRecord
from mitmtape.store import StoreUnavailable, masked, open_store
from mitmtape.store.child import child_database, spawn
from mitmtape.store.rows import Listing

WRITE_BATCH = 500
WRITE_INTERVAL_S = 0.1
SEND_INTERVAL_S = 0.05
# A body larger than this is sent to the child on its own, not inside its flow's pickle.
SPOOL_BODY_BYTES = 1 << 20
# Flows that could not be committed wait in the child up to this much memory; past it, newer
# flows are dropped (and counted). Retries start after the first delay and double to the most.
WRITE_RETRY_BUFFER_BYTES = 256 * 1024 * 1024
WRITE_RETRY_FIRST_S = 0.25
WRITE_RETRY_MAX_S = 5.0
# What a waiting flow costs beyond its bodies, URL and record column (its tuples and strings).
RECORD_OVERHEAD_BYTES = 1024

logger = logging.getLogger(__name__)

WrittenCallback = Callable[[list[Listing]], None]
Item = tuple[str, WireSnapshot | FlowRecord]
# What waits for the sender: a pickled item, or a spooled flow (its pickle, then its bodies).
Outgoing = bytes | tuple[bytes, ...]


class FlowWriter:
    """The proxy's side: queue flows for the child, wait for flushes, hear what was written.

    `on_written` is called (on a listener thread) with the listings of each committed batch
    (`store.rows.summary_of` makes each a flow's summary).
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        on_written: WrittenCallback | None = None,
        batch_size: int = WRITE_BATCH,
        interval: float = WRITE_INTERVAL_S,
        retry_buffer_bytes: int = WRITE_RETRY_BUFFER_BYTES,
    ) -> None:
        self.on_written = on_written
        self.written = 0
        self._tokens = itertools.count()
        self._waiting: dict[int, threading.Event] = {}
        # Items are pickled as they are queued, so what waits is bytes: the garbage collector
        # never tracks it, and the flow's objects are let go at once, on mitmproxy's thread.
        # The sender drains the queue every SEND_INTERVAL_S: waking a thread per flow would
        # hand the GIL back and forth with mitmproxy's event loop.
        self._pending: collections.deque[Outgoing] = collections.deque()
        self._wake = threading.Event()
        self._closing = False
        self._child = spawn(
            "mitmtape.capture.writer",
            [str(batch_size), str(interval), "1" if on_written else "0", str(retry_buffer_bytes)],
            db_path,
        )
        self._sender = threading.Thread(target=self._send, name="mitmtape-sender", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="mitmtape-listen", daemon=True)
        self._sender.start()
        self._listener.start()

    @property
    def pid(self) -> int:
        """The child process's id (its memory is what large bodies would cost)."""
        return self._child.pid

    def submit(self, session_id: str, flow: WireSnapshot | FlowRecord) -> None:
        """Queue one flow for `session_id`; never blocks (a size check, a pickle, an append)."""
        if isinstance(flow, tuple) and _has_large_body(flow):
            # One append: flows submitted from other threads cannot land between the parts.
            self._pending.append(_spooled(session_id, flow))
        else:
            self._queue(("flow", (session_id, flow)))

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything submitted so far was tried; False on timeout or death.

        While the database cannot be written, what failed waits in the child: a flush does not
        wait for the disk.
        """
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
                    _write_all(self._child.stdin, chunks)
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
                count, listings = value
                self.written += count
                if self.on_written is not None and listings:
                    self.on_written(listings)
            elif kind == "done":
                self._waiting.pop(value).set()
            elif kind == "alert":
                logger.log(ALERT, "mitmtape: %s", value)
            elif kind == "error":
                logger.error("mitmtape: %s", value)
        for event in self._waiting.values():
            event.set()


# Where a body sits in the wire form's request and response tuples.
REQUEST_BODY, RESPONSE_BODY = 8, 4


def _is_large(body: object) -> bool:
    return type(body) is bytes and len(body) > SPOOL_BODY_BYTES


def _has_large_body(wire: WireSnapshot) -> bool:
    response = wire[1]
    return _is_large(wire[0][REQUEST_BODY]) or (
        response is not None and _is_large(response[RESPONSE_BODY])
    )


def _with_body(message: Any, index: int, body: object) -> Any:
    return (*message[:index], body, *message[index + 1 :])


def _spooled(session_id: str, wire: WireSnapshot) -> tuple[bytes, ...]:
    """A flow's pickle without its large bodies, then those bodies (request first) as they are.

    Pickled whole, a large body would be copied on mitmproxy's event loop and once more in the
    child; sent beside its flow, it is read there straight into the one bytes object it needs.
    """
    request, response, *rest = wire
    bodies: list[bytes] = []
    sizes: list[int | None] = []
    if _is_large(request[REQUEST_BODY]):
        bodies.append(request[REQUEST_BODY])  # type: ignore[arg-type]
        request = _with_body(request, REQUEST_BODY, None)
    sizes.append(len(bodies[0]) if bodies else None)
    if response is not None and _is_large(response[RESPONSE_BODY]):
        bodies.append(response[RESPONSE_BODY])  # type: ignore[arg-type]
        response = _with_body(response, RESPONSE_BODY, None)
        sizes.append(len(bodies[-1]))
    else:
        sizes.append(None)
    head = ("spooled", (session_id, (request, response, *rest), tuple(sizes)))
    return (pickle.dumps(head, pickle.HIGHEST_PROTOCOL), *bodies)


def _unspooled(
    stream: IO[bytes], session_id: str, wire: Any, sizes: tuple[int | None, int | None]
) -> tuple[str, WireSnapshot]:
    """The flow `_spooled` sent, its large bodies read back into their places."""
    request, response, *rest = wire
    request_size, response_size = sizes
    if request_size is not None:
        request = _with_body(request, REQUEST_BODY, _read_exactly(stream, request_size))
    if response_size is not None:
        response = _with_body(response, RESPONSE_BODY, _read_exactly(stream, response_size))
    return session_id, (request, response, *rest)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)  # one bytes object, filled in place by the buffered reader
    if len(data) < size:
        raise EOFError("the proxy went away in the middle of a body")
    return data


def _write_all(stream: IO[bytes], chunks: list[Outgoing]) -> None:
    """Pickles joined into few writes; a spooled body written from its own bytes, not joined.

    The length of each pickle goes first, so the child reads each as bytes and loads it from
    memory (`pickle.load` from the pipe cost it several µs a flow), and hands them on as one
    list; a spooled flow's bodies follow its pickle.
    """
    sizes = [len(chunk if isinstance(chunk, bytes) else chunk[0]) for chunk in chunks]
    small = [pickle.dumps(("items", sizes), pickle.HIGHEST_PROTOCOL)]
    for chunk in chunks:
        if isinstance(chunk, bytes):
            small.append(chunk)
            continue
        head, *bodies = chunk
        stream.write(b"".join([*small, head]))
        small.clear()
        for body in bodies:
            stream.write(body)
    if small:
        stream.write(b"".join(small))
    stream.flush()


def footprint(flow: PendingFlow) -> int:
    """About the memory a waiting flow holds: bodies, URL, record column and a fixed overhead."""
    row = flow.row
    return RECORD_OVERHEAD_BYTES + len(row[6]) + len(row[15]) + sum(len(b[2]) for b in flow.bodies)


class _ChildWriter:
    """The child's side: read items, gather batches, commit (or keep and retry), report back."""

    def __init__(
        self, db_path: str, batch_size: int, interval: float, report: bool, buffer_bytes: int
    ) -> None:
        self.store = open_store(db_path)
        self.batch_size = batch_size
        self.interval = interval
        self.report = report
        self.buffer_bytes = buffer_bytes
        # Lists of items as the reader thread got them, and the rest of the one being taken.
        self.inbox: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
        self.unread: collections.deque[Any] = collections.deque()
        self.out: IO[bytes] = sys.stdout.buffer
        # Flows not yet committed, oldest first, and while writes fail the sum of their
        # footprints: only then does the buffer's limit apply, so only then are they measured.
        self.waiting: collections.deque[PendingFlow] = collections.deque()
        self.waiting_bytes = 0
        # While writes fail: why, when to try again, and how many waited and were then saved.
        self.failure: str | None = None
        self.retry_delay = WRITE_RETRY_FIRST_S
        self.retry_at = 0.0
        self.saved = 0
        self.dropped = 0

    def reply(self, kind: str, value: Any) -> None:
        pickle.dump((kind, value), self.out, protocol=pickle.HIGHEST_PROTOCOL)
        self.out.flush()

    def read(self) -> None:
        """Put each batch the sender wrote into the inbox as one list: the main thread wakes
        once a batch, not once a flow."""
        stdin = sys.stdin.buffer
        while True:
            items: list[Any] = []
            try:
                _, sizes = pickle.load(stdin)
                for size in sizes:
                    item = pickle.loads(_read_exactly(stdin, size))
                    if item[0] == "spooled":
                        item = ("flow", _unspooled(stdin, *item[1]))
                    items.append(item)
            except (EOFError, OSError, pickle.UnpicklingError):
                self.inbox.put([*items, None])  # the proxy is gone: commit and exit
                return
            self.inbox.put(items)

    def next_item(self, timeout: float | None) -> Any:
        """The next item read, waiting up to `timeout` seconds (None: as long as it takes);
        raises queue.Empty when none came."""
        if not self.unread:
            self.unread.extend(self.inbox.get(timeout=timeout))
        return self.unread.popleft()

    def run(self) -> None:
        threading.Thread(target=self.read, daemon=True).start()
        while True:
            batch, marker = self.collect()
            self.hold(self.rows_of(batch))
            if self.waiting and (marker is not None or time.monotonic() >= self.retry_at):
                self.write_waiting()
            if marker is None:
                continue
            if marker == "eof":
                self.give_up()
                return
            kind, token = marker
            if kind == "stop":
                self.give_up()
            self.reply("done", token)
            if kind == "stop":
                return

    def collect(self) -> tuple[list[Item], Any]:
        """Block for the first item (while writes fail, until the retry is due), then take more
        until the batch is full or time is up."""
        batch: list[Item] = []
        deadline = self.retry_at if self.failure is not None else None
        while len(batch) < self.batch_size:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self.next_item(timeout)
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

    def rows_of(self, batch: list[Item]) -> list[PendingFlow]:
        flows = []
        for session_id, flow in batch:
            try:
                flows.append(
                    pending_of_record(flow)
                    if isinstance(flow, FlowRecord)
                    else pending_of_wire(session_id, flow)
                )
            except Exception as exc:
                self.reply("error", f"could not write 1 flow: {exc!r}")
        return flows

    def hold(self, flows: list[PendingFlow]) -> None:
        """Queue flows for writing; while writes fail, only up to the buffer's limit."""
        if self.failure is None:
            self.waiting.extend(flows)
            return
        for flow in flows:
            size = footprint(flow)
            if self.waiting and self.waiting_bytes + size > self.buffer_bytes:
                self.dropped += 1
                continue
            self.waiting.append(flow)
            self.waiting_bytes += size

    def write_waiting(self) -> None:
        """Commit the waiting flows in order, a batch at a time, until none wait or one fails."""
        while self.waiting:
            chunk = list(itertools.islice(self.waiting, self.batch_size))
            rows = [flow.row for flow in chunk]
            bodies = [body for flow in chunk for body in flow.bodies]
            try:
                written = self.store.add_rows((rows, bodies))
            except StoreUnavailable as exc:  # a full disk, a server gone away: may pass
                self.failed(exc)
                return
            except Exception as exc:  # records the store refuses: retrying cannot help
                self.reply("error", f"could not write {len(chunk)} flows: {exc!r}")
            else:
                self.report_written(chunk, written)
            self.release(len(chunk))
        self.recovered()

    def release(self, count: int) -> None:
        released = [self.waiting.popleft() for _ in range(count)]
        if self.failure is not None:
            self.waiting_bytes -= sum(footprint(flow) for flow in released)
            self.saved += count

    def report_written(self, flows: list[PendingFlow], written: int) -> None:
        listings = [flow.listing for flow in flows] if self.report else None
        self.reply("written", (written, listings))

    def failed(self, exc: StoreUnavailable) -> None:
        """Tell the proxy once that writes fail; try again later, each time a little later."""
        if self.failure is None:
            self.failure, self.saved = str(exc), 0
            self.waiting_bytes = sum(footprint(flow) for flow in self.waiting)
            self.retry_delay = WRITE_RETRY_FIRST_S
            self.reply(
                "alert",
                f"{exc}; keeping {len(self.waiting)} flows "
                f"in memory (up to {self.buffer_bytes // 2**20} MB) and retrying",
            )
        else:
            self.retry_delay = min(self.retry_delay * 2, WRITE_RETRY_MAX_S)
        self.retry_at = time.monotonic() + self.retry_delay
        self.report_dropped()

    def recovered(self) -> None:
        if self.failure is None:
            return
        self.failure = None
        self.report_dropped()
        self.reply(
            "alert",
            f"writing to {self.store.shown} again: committed {self.saved} flows that waited",
        )

    def report_dropped(self) -> None:
        if self.dropped:
            self.reply(
                "error",
                f"the write buffer is full ({self.buffer_bytes // 2**20} MB): dropped "
                f"{self.dropped} flows",
            )
            self.dropped = 0

    def give_up(self) -> None:
        """At the end, one last try; what still cannot be written is counted as lost."""
        if self.waiting:
            self.write_waiting()
        self.report_dropped()
        if self.waiting:
            self.reply(
                "error",
                f"could not write {len(self.waiting)} flows before exiting: {self.failure}; "
                "they are lost",
            )


WRITER_NICENESS = 10
# New container objects between two collections of the youngest generation in the child.
GC_THRESHOLD = 100_000


def main(argv: list[str]) -> None:
    # A signal must not lose queued flows: the child runs in a process group of its own (a
    # Ctrl-C at the terminal is the proxy's), ignores one sent to it, and ends when its input
    # does (the proxy is gone), after committing what it has.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Recording is background work: when the machine is busy, the proxy comes first and the
    # writer catches up in larger batches. (The child stays in the proxy's session, so the
    # scheduler's per-session groups weigh this against the proxy, not against everyone.)
    os.nice(WRITER_NICENESS)
    db_path = child_database()
    batch_size, interval, report, buffer_bytes = argv
    try:
        writer = _ChildWriter(
            db_path, int(batch_size), float(interval), report == "1", int(buffer_bytes)
        )
    except Exception as exc:
        pickle.dump(
            ("error", f"the writer cannot open {masked(db_path)}: {exc}"), sys.stdout.buffer
        )
        sys.exit(1)
    # What the child loaded to start lives as long as it does, so collections need not walk
    # it; a batch's records are freed together once committed, so a collection every
    # GC_THRESHOLD new objects finds most of them gone instead of walking them (Python's 2,000,
    # or 3.11's 700, would walk each batch dozens of times).
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    writer.run()
    writer.store.close()
    sys.stdout.flush()
    # The reader thread may still block on stdin; a normal exit would wait to finalize it.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
