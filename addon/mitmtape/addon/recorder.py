"""The recording half of the addon: the store, the writer, the active session, background jobs.

Command groups receive this object, never the addon that composes it. Everything here that can
wait (a flush, an export, a listing) runs on a job thread, never on mitmproxy's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from weakref import WeakKeyDictionary

from mitmproxy import ctx, exceptions, http

from mitmtape.addon.outcome import show_answer, tell
from mitmtape.capture.record import snapshot_of
from mitmtape.capture.writer import FlowWriter, WrittenCallback
from mitmtape.store import Store, StoreError, open_store

logger = logging.getLogger(__name__)

# Exports, imports, listings and compares that run at once; more wait their turn.
JOB_THREADS = 4
# At `done`, running jobs get this long to finish, then this long more once asked to cancel.
JOBS_FINISH_S = 30.0
JOBS_CANCEL_S = 5.0

Work = Callable[[], str]


class Recorder:
    """Records finished flows into the active session and runs the commands' slow work."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.writer: FlowWriter | None = None
        self.session_id = ""
        self.recording = True
        self.max_body_size: int | None = None
        # Set by `running`: jobs run on threads only once mitmproxy's loop runs; before that
        # (scripts, tests) they run in place and a failure is a CommandError.
        self.loop: asyncio.AbstractEventLoop | None = None
        # Server connections whose first flow was recorded: later flows reused them.
        self._seen_servers: set[str] = set()
        # The response object recorded per flow, so an `error` after `response` is not a second
        # record, while a replay (a new response on the same flow) is.
        self._recorded: WeakKeyDictionary[http.HTTPFlow, object] = WeakKeyDictionary()
        self._pool = ThreadPoolExecutor(JOB_THREADS, thread_name_prefix="mitmtape-job")
        self._jobs: dict[Future[None], str] = {}
        self._stopping = threading.Event()

    @property
    def is_running(self) -> bool:
        return self.loop is not None

    def running(self) -> None:
        self.loop = ctx.master.event_loop

    # The store

    def open_store(self, path: str | os.PathLike[str], on_written: WrittenCallback | None) -> None:
        """Record into `path` from now on; the old store closes (refused while jobs use it)."""
        if self._jobs:
            raise StoreError(
                f"{len(self._jobs)} exports or imports are still running; "
                "change the database when they are done"
            )
        store = open_store(path)
        self.close_store()
        self.store = store
        self.writer = FlowWriter(store.location, on_written=on_written)
        active = store.active_session()
        self.session_id = active.id
        logger.info("mitmtape: recording into %s (%s)", store.shown, active.name)

    def close_store(self) -> None:
        """Commit what the writer holds and close; a store still used by a job stays open."""
        if self.writer is not None:
            self.writer.close()
        if self.store is not None and not self._jobs:
            self.store.close()
        self.writer = self.store = None

    def require_store(self) -> Store:
        if self.store is None:
            raise exceptions.CommandError("mitmtape has no database open (see the error at start)")
        return self.store

    def activate(self, session_id: str) -> None:
        """Record into another session. No flush: each queued flow carries its own session."""
        self.require_store().set_active(session_id)
        self.session_id = session_id

    def follow_active_session(self) -> None:
        """Record into whatever session the database marks active (the web page changed it)."""
        if self.store is not None:
            self.session_id = self.store.active_session().id

    def flush(self) -> None:
        """Wait until every captured flow is committed: on a job thread or in tests only."""
        if self.writer is not None:
            self.writer.flush()

    # Capture: called once per flow from mitmproxy's hooks, so kept to a copy and a queue.

    def capture(self, flow: http.HTTPFlow) -> None:
        if self.writer is None or not self.recording:
            return
        fresh = flow.server_conn.id not in self._seen_servers
        self._seen_servers.add(flow.server_conn.id)
        self._recorded[flow] = flow.response
        self.writer.submit(self.session_id, snapshot_of(flow, fresh, self.max_body_size))

    def capture_failed(self, flow: http.HTTPFlow) -> None:
        """A flow's `error`: recorded unless its response already was."""
        if flow.response is None or self._recorded.get(flow) is not flow.response:
            self.capture(flow)

    def forget_server(self, server_id: str) -> None:
        self._seen_servers.discard(server_id)

    # Background jobs

    def cancelled(self) -> bool:
        """Asked between batches by exports and imports: True once `done` stops waiting."""
        return self._stopping.is_set()

    def run(self, work: Work, what: str) -> None:
        """Do `work` (an export, an import) off the loop; its outcome goes to the status bar."""
        self._start(work, what, tell)

    def answer(self, work: Work, what: str) -> None:
        """Compute an answer off the loop; show it from the loop (the console's data viewer)."""
        loop = self.loop
        if loop is None:
            self._start(work, what, show_answer)
        else:
            self._start(work, what, lambda text: loop.call_soon_threadsafe(show_answer, text))

    def _start(self, work: Work, what: str, deliver: Callable[[str], object]) -> None:
        if self.loop is None:
            try:
                message = work()
            except Exception as exc:
                raise exceptions.CommandError(f"{what} failed: {exc}") from None
            deliver(message)
            return
        job = self._pool.submit(self._job, work, what, deliver)
        self._jobs[job] = what
        job.add_done_callback(self._forget_job)

    def _forget_job(self, job: Future[None]) -> None:
        self._jobs.pop(job, None)

    @staticmethod
    def _job(work: Work, what: str, deliver: Callable[[str], object]) -> None:
        try:
            message = work()
        except Exception as exc:
            logger.error("mitmtape: %s failed: %s", what, exc)
            return
        deliver(message)

    def finish_jobs(self) -> None:
        """At `done`: let running jobs finish (bounded), then cancel what still runs."""
        running = dict(self._jobs)
        if not running:
            return
        logger.info(
            "mitmtape: waiting up to %.0f s for %s", JOBS_FINISH_S, "; ".join(running.values())
        )
        _, left = wait(running, JOBS_FINISH_S)
        if left:
            self._stopping.set()
            _, left = wait(left, JOBS_CANCEL_S)
        if left:
            logger.error(
                "mitmtape: stopping while %s still runs", "; ".join(running[job] for job in left)
            )
