"""Replay doors of the addon: `tape.replay.server`, `tape.replay.client` and their options.

A session goes back into mitmproxy's own replay addons, so their options apply unchanged:
`serverplayback` answers from it (`server_replay_extra`, `server_replay_ignore_params`...),
`clientplayback` re-sends its requests. Records are read and rebuilt as flows on a job thread
and handed to the event loop in parts. The answers of a client replay are recorded here, not
by the ordinary capture, because each keeps the id of the flow it replays (`replay_of`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakSet

from mitmproxy import command, ctx, exceptions, http
from mitmproxy.addonmanager import Loader

from mitmtape.addon.recorder import Recorder
from mitmtape.capture.record import FilterError, compile_expression, snapshot_from_wire, snapshot_of
from mitmtape.capture.replay import (
    RECORD_ID,
    REPLAY_INTO,
    REPLAY_OF,
    ReplayError,
    check_target,
    records_of,
    replay_flow,
    replay_session_name,
    served_flow,
)
from mitmtape.capture.snapshot import WireSnapshot
from mitmtape.compare import ignore_paths
from mitmtape.model import Session, utc_now
from mitmtape.store import Store, StoreError

logger = logging.getLogger(__name__)

# Flows handed to the event loop at a time: a session of 100,000 flows never holds the
# loop for long, and the job waits for each part (so memory stays bounded too).
HANDOVER = 1_000
HANDOVER_WAIT_S = 60.0
# Replayed answers are written to the store in batches of this many.
REPLAY_WRITE_BATCH = 500


def found(store: Store, ref: str) -> Session:
    """The session `ref` names, or a CommandError saying none does."""
    try:
        return store.get_session(ref)
    except StoreError as exc:
        raise exceptions.CommandError(str(exc)) from None


def replay_ignore() -> tuple[tuple[str, ...], ...]:
    """The JSON paths `tape_replay_ignore` names, for compares (none when not loaded)."""
    text = getattr(ctx.options, "tape_replay_ignore", "")
    try:
        return ignore_paths(text)
    except ValueError:
        return ()


@dataclass(slots=True)
class Run:
    """One `tape.replay.client`: how many flows went out and how many are back."""

    original: Session
    replay: Session
    sent: int
    not_sent: int
    back: int = 0
    failed: int = 0

    def message(self) -> str:
        answered = self.back - self.failed
        skipped = f"; {self.not_sent:,} WebSocket flows not replayed" if self.not_sent else ""
        return (
            f"Replayed {self.sent:,} flows of {self.original.name!r} into {self.replay.name!r}: "
            f"{answered:,} answered, {self.failed:,} failed{skipped}; "
            f"tape.compare {self.original.id} {self.replay.id}"
        )


class ReplayCommands:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.runs: dict[str, Run] = {}
        # (session recorded into, id of the replayed record, the answer), waiting for a write.
        self._pending: list[tuple[str, str, WireSnapshot]] = []
        self._recorded: WeakSet[http.HTTPFlow] = WeakSet()
        self._write_lock = threading.Lock()

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "tape_server_replay",
            str,
            "",
            "Answer requests from this mitmtape session (id or name) with mitmproxy's server "
            "replay; its server_replay_* options apply.",
        )
        loader.add_option(
            "tape_record_replayed",
            bool,
            False,
            "Record flows answered by server replay too (they are not recorded by default).",
        )
        loader.add_option(
            "tape_replay_ignore",
            str,
            "",
            "JSON paths left out when compare checks replayed bodies, comma-separated "
            "(e.g. timestamp,meta.requestId).",
        )

    def configure(self, updated: set[str]) -> None:
        if "tape_replay_ignore" in updated:
            try:
                ignore_paths(ctx.options.tape_replay_ignore)
            except ValueError as exc:
                raise exceptions.OptionsError(f"tape_replay_ignore: {exc}") from None
        if "tape_server_replay" in updated and ctx.options.tape_server_replay:
            store = self.recorder.store
            if store is None:
                return  # the store's own error is already logged
            session = store.find_session(ctx.options.tape_server_replay)
            if session is None:
                raise exceptions.OptionsError(
                    f"tape_server_replay: no session with id or name "
                    f"{ctx.options.tape_server_replay!r}"
                )
            self._serve(store, session)

    @command.command("tape.replay.server")
    def replay_server(self, session: str) -> None:
        """Answer requests from a session's recorded responses (mitmproxy's server replay)."""
        store = self.recorder.require_store()
        self._serve(store, found(store, session))

    def _serve(self, store: Store, session: Session) -> None:
        hand = self._handing(lambda flows, first: self._add_served(flows, first))

        def work() -> str:
            self.recorder.flush()
            served, part, first = 0, [], True
            for record in records_of(store, session):
                flow = served_flow(record)
                if flow is not None:
                    part.append(flow)
                if len(part) >= HANDOVER:
                    hand(part, first)
                    served, part, first = served + len(part), [], False
            hand(part, first)
            served += len(part)
            return f"Server replay: answering from {served:,} flows of {session.name!r}"

        self.recorder.run(work, f"server replay of {session.name!r}")

    @staticmethod
    def _add_served(flows: list[http.HTTPFlow], first: bool) -> None:
        """The first part replaces what server replay held (a new session), the rest adds."""
        ctx.master.commands.call("replay.server" if first else "replay.server.add", flows)

    def _handing(self, on_loop: Callable[..., None]) -> Callable[..., None]:
        """Calls `on_loop` on the event loop from a job thread and waits until it ran; in
        place before the loop runs (at start, while the proxy does not listen yet)."""
        loop = self.recorder.loop
        if loop is None:
            return on_loop

        def hand(*args: Any) -> None:
            ran = threading.Event()

            def call() -> None:
                try:
                    on_loop(*args)
                finally:
                    ran.set()

            loop.call_soon_threadsafe(call)
            if not ran.wait(HANDOVER_WAIT_S):
                raise TimeoutError("mitmproxy's event loop did not take the flows in time")

        return hand

    @command.command("tape.replay.client")
    def replay_client(self, session: str, filter: str = "", target: str = "") -> None:
        """Re-send a session's requests (optionally those matching a mitmproxy filter, to
        another scheme://host:port) and record the answers into a new session."""
        store = self.recorder.require_store()
        original = found(store, session)
        try:
            matches = compile_expression(filter) if filter else None
            to = check_target(target)
        except (FilterError, ReplayError) as exc:
            raise exceptions.CommandError(str(exc)) from None
        hand = self._handing(self._start_run)

        def work() -> str:
            replay = store.create_session(
                replay_session_name(original.name, utc_now()),
                f"Replay of {original.name} ({original.id})",
            )
            flows, not_sent = [], 0
            for record in records_of(store, original, matches):
                flow = replay_flow(record, replay.id, to)
                if flow is None:
                    not_sent += 1
                else:
                    flows.append(flow)
            run = Run(original, replay, len(flows), not_sent)
            hand(run, flows)
            return (
                f"Replaying {run.sent:,} flows of {original.name!r} into {replay.name!r}"
                if flows
                else run.message()
            )

        self.recorder.run(work, f"client replay of {original.name!r}")

    def _start_run(self, run: Run, flows: list[http.HTTPFlow]) -> None:
        if not flows:
            return
        self.runs[run.replay.id] = run
        view = ctx.master.addons.get("view")
        if view is not None:
            view.add(flows)
        ctx.master.commands.call("replay.client", flows)

    # Hooks, passed on by the addon: whether a flow is this group's instead of the capture's.

    def took(self, flow: http.HTTPFlow) -> bool:
        """Served from a replay: not recorded (unless `tape_record_replayed`). Re-sent by
        `tape.replay.client` (or a flow file it wrote): recorded here, with `replay_of`."""
        if flow.is_replay == "response":
            return not ctx.options.tape_record_replayed
        into = flow.metadata.get(REPLAY_INTO)
        if flow.is_replay != "request" or not isinstance(into, str):
            return False
        if flow not in self._recorded:
            self._recorded.add(flow)
            self._answer_back(flow, into)
        return True

    def _answer_back(self, flow: http.HTTPFlow, into: str) -> None:
        wire = snapshot_of(flow, True, self.recorder.max_body_size)
        self._pending.append((into, str(flow.metadata.get(RECORD_ID, "")), wire))
        run = self.runs.get(into)
        if run is not None:
            run.back += 1
            run.failed += flow.response is None
        finished = run is not None and run.back >= run.sent
        queue_empty = run is None and ctx.master.commands.call("replay.client.count") <= 1
        if finished or queue_empty or len(self._pending) >= REPLAY_WRITE_BATCH:
            self._write(self.runs.pop(into) if finished and run is not None else None)

    def _write(self, finished: Run | None = None) -> None:
        """Record the answers back so far on a job thread; a finished run says so."""
        pending, self._pending = self._pending, []
        store = self.recorder.require_store()

        def work() -> str:
            records = []
            for into, original_id, wire in pending:
                record = snapshot_from_wire(wire).to_record(into)
                record.source = "replay"
                if original_id:
                    record.metadata[REPLAY_OF] = original_id
                records.append(record)
            with self._write_lock:
                store.add_flows(records)
            if finished is not None:
                return finished.message()
            return f"Recorded {len(records):,} replayed flows"

        self.recorder.run(work, "recording replayed flows")

    def done(self) -> None:
        """At shutdown: answers not yet written are written (before the jobs are awaited)."""
        if self._pending and self.recorder.store is not None:
            self._write()
