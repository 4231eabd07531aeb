"""The mitmproxy addon: capture hooks, `tape_*` options and `tape.*` session commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Optional
from weakref import WeakKeyDictionary

from mitmproxy import command, ctx, exceptions, http
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.utils import human

from mitmtape.addon.api import ApiCommands
from mitmtape.addon.exports import ExportCommands
from mitmtape.addon.imports import ImportCommands
from mitmtape.addon.keys import KeyCommands
from mitmtape.addon.snippets import CopyCommands
from mitmtape.capture.record import snapshot_of
from mitmtape.capture.writer import FlowWriter
from mitmtape.compare import compare_sessions
from mitmtape.export.pipeline import ARTIFACTS_KEEP, ExportError, check_artifacts_keep
from mitmtape.store import Store, StoreError, default_db_path

logger = logging.getLogger(__name__)


class MitmTape:
    """Records every finished HTTP flow into the active session of a mitmtape database."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.writer: FlowWriter | None = None
        self.session_id = ""
        self.is_running = False
        self.recording = True
        self.max_body_size: int | None = None
        # Server connections whose first flow was recorded: later flows reused them.
        self._seen_servers: set[str] = set()
        # The response object recorded per flow, so an `error` after `response` is not a second
        # record, while a replay (a new response on the same flow) is.
        self._recorded: WeakKeyDictionary[http.HTTPFlow, object] = WeakKeyDictionary()
        self._jobs: set[asyncio.Future[str]] = set()
        # The command groups are parts of this addon, not mitmproxy child addons: mitmproxy
        # offers each of its eight events per flow to every addon it knows, which costs the
        # proxy time per flow even when nothing handles them (five children cost ~2% of its
        # throughput). `load` registers their commands; the few other events they use are
        # passed on by this addon's own hooks.
        self.exports = ExportCommands(self)
        self.imports = ImportCommands(self)
        self.copies = CopyCommands()
        self.keys = KeyCommands()
        self.api = ApiCommands(self)
        self.command_groups = (self.exports, self.imports, self.copies, self.keys, self.api)

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "tape_db",
            str,
            "",
            "mitmtape SQLite database; default $MITMTAPE_DB or {confdir}/mitmtape/mitmtape.db.",
        )
        loader.add_option(
            "tape_session", str, "", "mitmtape session to record into, made if missing."
        )
        loader.add_option("tape_record", bool, True, "Record flows into the mitmtape session.")
        loader.add_option(
            "tape_max_body_size",
            Optional[str],  # noqa: UP045 (mitmproxy's option types want typing's spelling)
            None,
            "Bodies larger than this (e.g. 10m, as stream_large_bodies) are recorded with their "
            "size only, marked too-large; unset keeps every body.",
        )
        loader.add_option(
            "tape_artifacts_keep",
            int,
            ARTIFACTS_KEEP,
            "Exports kept as artifacts per session, newest first; older ones are deleted when "
            "a new one is kept. 0 keeps none.",
        )
        self.exports.load(loader)
        self.api.load(loader)
        for group in self.command_groups:
            loader.master.commands.collect_commands(group)

    def configure(self, updated: set[str]) -> None:
        self._configure_recording(updated)
        self.exports.configure(updated)
        self._configure_artifacts(updated)
        self.api.configure(updated)
        if self.api.server is not None:
            self.api.server.artifacts_keep = ctx.options.tape_artifacts_keep

    @staticmethod
    def _configure_artifacts(updated: set[str]) -> None:
        if "tape_artifacts_keep" in updated:
            try:
                check_artifacts_keep(ctx.options.tape_artifacts_keep)
            except ExportError as exc:
                raise exceptions.OptionsError(f"tape_artifacts_keep: {exc}") from None

    def _configure_recording(self, updated: set[str]) -> None:
        if "tape_record" in updated:
            self.recording = ctx.options.tape_record
        if "tape_max_body_size" in updated:
            self._configure_max_body_size()
        if updated & {"tape_db", "confdir", "tape_api"} or self.store is None:
            try:
                self._open_store()
            except StoreError as exc:
                if self.is_running:
                    raise exceptions.OptionsError(str(exc)) from None
                # At start a logged error makes mitmproxy exit with status 1; raising would
                # only add a traceback around the same sentence.
                logger.error("mitmtape: %s", exc)
                return
        if "tape_session" in updated and ctx.options.tape_session and self.store is not None:
            try:
                session = self.store.get_or_create_session(ctx.options.tape_session)
                self._activate(session.id)
            except StoreError as exc:
                raise exceptions.OptionsError(str(exc)) from None

    def _configure_max_body_size(self) -> None:
        value = ctx.options.tape_max_body_size
        try:
            self.max_body_size = human.parse_size(value)
        except ValueError:
            message = f"tape_max_body_size: {value!r} is not a size (examples: 500k, 10m, 1g)"
            if self.is_running:
                raise exceptions.OptionsError(message) from None
            logger.error("mitmtape: %s", message)  # at start: one line, and mitmproxy exits

    def running(self) -> None:
        self.is_running = True
        self.keys.running()

    def _open_store(self) -> None:
        path = ctx.options.tape_db or default_db_path(ctx.options.confdir)
        store = Store(path)
        self._close_store()
        self.store = store
        # The writer reports what it committed only when the API has someone to tell.
        announce = self.api.announce if ctx.options.tape_api else None
        self.writer = FlowWriter(store.path, on_written=announce)
        self.session_id = store.active_session().id
        logger.info("mitmtape: recording into %s (%s)", store.path, store.active_session().name)

    def _close_store(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.store is not None:
            self.store.close()
        self.writer = self.store = None

    def done(self) -> None:
        self.exports.export_on_exit()
        self.api.stop()
        self._close_store()

    # Capture

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            self._capture(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or self._recorded.get(flow) is not flow.response:
            self._capture(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._capture(flow)

    def server_disconnected(self, data: ServerConnectionHookData) -> None:
        self._seen_servers.discard(data.server.id)

    def _capture(self, flow: http.HTTPFlow) -> None:
        if self.writer is None or not self.recording:
            return
        fresh = flow.server_conn.id not in self._seen_servers
        self._seen_servers.add(flow.server_conn.id)
        self._recorded[flow] = flow.response
        self.writer.submit(self.session_id, snapshot_of(flow, fresh, self.max_body_size))

    def flush(self) -> None:
        """Wait until every captured flow is committed (tests and exports read after this)."""
        if self.writer is not None:
            self.writer.flush()

    # Session commands

    def require_store(self) -> Store:
        if self.store is None:
            raise exceptions.CommandError("mitmtape has no database open (see the error at start)")
        return self.store

    def follow_active_session(self) -> None:
        """Record into whatever session the database marks active (the web page changed it)."""
        if self.store is not None:
            self.session_id = self.store.active_session().id

    def _activate(self, session_id: str) -> None:
        self.flush()
        self.require_store().set_active(session_id)
        self.session_id = session_id

    @command.command("tape.session.new")
    def session_new(self, name: str) -> str:
        """Start a new session with this name and record into it."""
        store = self.require_store()
        try:
            session = store.create_session(name)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        self._activate(session.id)
        return self._say(f"Recording into new session {session.name!r} ({session.id})")

    @command.command("tape.session.list")
    def session_list(self) -> str:
        """List sessions: the active one marked with `*`, flow counts and sizes."""
        self.flush()
        lines = [
            f"{'*' if s.active else ' '} {s.id}  {s.flow_count:>7} flows  {s.name}"
            for s in self.require_store().list_sessions()
        ]
        return self._say("\n".join(lines))

    @command.command("tape.session.switch")
    def session_switch(self, session: str) -> str:
        """Record into another session, named by id or exact name."""
        try:
            found = self.require_store().get_session(session)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        self._activate(found.id)
        return self._say(f"Recording into session {found.name!r} ({found.id})")

    @command.command("tape.session.rename")
    def session_rename(self, session: str, name: str) -> str:
        """Give a session a new name."""
        try:
            renamed = self.require_store().rename_session(session, name)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        return self._say(f"Session {renamed.id} is now named {renamed.name!r}")

    @command.command("tape.session.delete")
    def session_delete(self, session: str) -> str:
        """Delete a session and its flows; deleting the active one moves recording on."""
        store = self.require_store()
        self.flush()
        try:
            deleted = store.delete_session(session)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        self.session_id = store.active_session().id
        return self._say(
            f"Deleted session {deleted.name!r} with {deleted.flow_count} flows; "
            f"recording into {store.active_session().name!r}"
        )

    @command.command("tape.compare")
    def compare(self, session_a: str, session_b: str) -> str:
        """Compare two sessions (A before, B after): endpoints added, removed, changed."""
        store = self.require_store()
        self.flush()
        try:
            return self._say(compare_sessions(store, session_a, session_b).to_text())
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None

    def background(self, work: Callable[[], str], what: str) -> str:
        """Run slow work (exports, imports) on a worker thread; its outcome is logged.

        Before mitmproxy runs (scripts, tests) the work runs in place and its message is
        returned.
        """
        if not self.is_running:
            try:
                return self._say(work())
            except Exception as exc:
                raise exceptions.CommandError(f"{what} failed: {exc}") from None
        job = asyncio.get_running_loop().run_in_executor(None, self._run_job, work, what)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return self._say(f"mitmtape: {what} started")

    @staticmethod
    def _run_job(work: Callable[[], str], what: str) -> str | None:
        """A background job: its outcome goes to the log, where the console shows it."""
        try:
            return MitmTape._say(work())
        except Exception as exc:
            logger.error("mitmtape: %s failed: %s", what, exc)
            return None

    @staticmethod
    def _say(message: str) -> str:
        logger.info(message)
        return message
