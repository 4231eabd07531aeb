"""The mitmproxy addon: capture hooks, `tape_*` options, and the wiring of its parts.

`MitmTape` is composed of a `Recorder` (store, writer, active session, background jobs) and one
command group per concern (sessions, exports, imports, snippets, keys, the API). The groups
receive the recorder, never this class.
"""

from __future__ import annotations

import logging
from typing import Optional

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.utils import human

from mitmtape.addon.api import ApiCommands
from mitmtape.addon.exports import ExportCommands
from mitmtape.addon.imports import ImportCommands
from mitmtape.addon.keys import KeyCommands
from mitmtape.addon.recorder import Recorder
from mitmtape.addon.replay import ReplayCommands
from mitmtape.addon.sessions import SessionCommands
from mitmtape.addon.snippets import CopyCommands
from mitmtape.export.pipeline import ARTIFACTS_KEEP, ExportError, check_artifacts_keep
from mitmtape.store import StoreError, default_db_path

logger = logging.getLogger(__name__)

__all__ = ["MitmTape"]


class MitmTape:
    """Records every finished HTTP flow into the active session of a mitmtape database."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        # The command groups are parts of this addon, not mitmproxy child addons: mitmproxy
        # offers each of its eight events per flow to every addon it knows, which costs the
        # proxy time per flow even when nothing handles them (five children cost ~2% of its
        # throughput). `load` registers their commands; the few other events they use are
        # passed on by this addon's own hooks.
        self.api = ApiCommands(self.recorder)
        self.sessions = SessionCommands(self.recorder)
        self.exports = ExportCommands(self.recorder, self.api.announce_artifact)
        self.imports = ImportCommands(self.recorder)
        self.copies = CopyCommands()
        self.keys = KeyCommands()
        self.replay = ReplayCommands(self.recorder)
        self.command_groups = (
            self.sessions, self.exports, self.imports, self.copies, self.keys, self.api,
            self.replay,
        )  # fmt: skip

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
        self.keys.load(loader)
        self.api.load(loader)
        self.replay.load(loader)
        for group in self.command_groups:
            loader.master.commands.collect_commands(group)

    def configure(self, updated: set[str]) -> None:
        self._configure_recording(updated)
        self.exports.configure(updated)
        self._configure_artifacts(updated)
        self.keys.configure(updated)
        self.api.configure(updated)
        self.replay.configure(updated)
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
        recorder = self.recorder
        if "tape_record" in updated:
            recorder.recording = ctx.options.tape_record
        if "tape_max_body_size" in updated:
            self._configure_max_body_size()
        if updated & {"tape_db", "confdir", "tape_api"} or recorder.store is None:
            try:
                self._open_store()
            except StoreError as exc:
                if recorder.is_running:
                    raise exceptions.OptionsError(str(exc)) from None
                # At start a logged error makes mitmproxy exit with status 1; raising would
                # only add a traceback around the same sentence.
                logger.error("mitmtape: %s", exc)
                return
        if "tape_session" in updated and ctx.options.tape_session and recorder.store is not None:
            try:
                session = recorder.store.get_or_create_session(ctx.options.tape_session)
                recorder.activate(session.id)
            except StoreError as exc:
                raise exceptions.OptionsError(str(exc)) from None

    def _configure_max_body_size(self) -> None:
        value = ctx.options.tape_max_body_size
        try:
            self.recorder.max_body_size = human.parse_size(value)
        except ValueError:
            message = f"tape_max_body_size: {value!r} is not a size (examples: 500k, 10m, 1g)"
            if self.recorder.is_running:
                raise exceptions.OptionsError(message) from None
            logger.error("mitmtape: %s", message)  # at start: one line, and mitmproxy exits

    def _open_store(self) -> None:
        path = ctx.options.tape_db or default_db_path(ctx.options.confdir)
        # The writer reports what it committed only when the API has someone to tell.
        self.recorder.open_store(path, self.api.announce if ctx.options.tape_api else None)

    def running(self) -> None:
        self.recorder.running()
        self.keys.running()

    def done(self) -> None:
        """Running exports and imports finish first: none of them meets a closed store."""
        self.keys.done()
        self.replay.done()
        self.recorder.finish_jobs()
        self.exports.export_on_exit()
        self.api.stop()
        self.recorder.close_store()

    # Capture: one call per flow into the recorder, nothing more on the hot path.

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None and not (flow.is_replay and self.replay.took(flow)):
            self.recorder.capture(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if not (flow.is_replay and self.replay.took(flow)):
            self.recorder.capture_failed(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self.recorder.capture(flow)

    def server_disconnected(self, data: ServerConnectionHookData) -> None:
        self.recorder.forget_server(data.server.id)
