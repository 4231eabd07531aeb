"""Export doors of the addon: `tape.export*` commands and the `tape_export_on_exit` option."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mitmproxy import command, ctx, exceptions, flow, http, types
from mitmproxy.addonmanager import Loader

from mitmtape.capture.record import flow_to_record
from mitmtape.export.formats import FORMATS
from mitmtape.export.pipeline import (
    ExportError,
    ExportOptions,
    ExportResult,
    export_records,
    export_session,
    get_format,
)
from mitmtape.model import Session
from mitmtape.store import StoreError

if TYPE_CHECKING:
    from mitmtape.addon import MitmTape

logger = logging.getLogger(__name__)

SELECTION_NAME = "selected flows"


def parse_export_on_exit(value: str) -> tuple[str, str]:
    """`FORMAT:PATH` → (format, path), with the format checked."""
    name, separator, path = value.partition(":")
    if not separator or not path:
        raise exceptions.OptionsError(
            f"tape_export_on_exit must be FORMAT:PATH (e.g. har:/tmp/out.har), not {value!r}"
        )
    try:
        return get_format(name).name, path
    except ExportError as exc:
        raise exceptions.OptionsError(f"tape_export_on_exit: {exc}") from None


class ExportCommands:
    """Exports run on a worker thread: a large session never stalls the proxy."""

    def __init__(self, tape: MitmTape) -> None:
        self.tape = tape

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "tape_redact",
            bool,
            False,
            "Mask authorization, cookie and API-key header values in exports (off: lossless).",
        )
        loader.add_option(
            "tape_export_on_exit",
            str,
            "",
            f"Export the active session when the proxy stops: FORMAT:PATH, "
            f"FORMAT one of {', '.join(FORMATS)}.",
        )

    def configure(self, updated: set[str]) -> None:
        if "tape_export_on_exit" in updated and ctx.options.tape_export_on_exit:
            parse_export_on_exit(ctx.options.tape_export_on_exit)

    def export_on_exit(self) -> None:
        """Called by the core addon's `done`, before it closes the store."""
        if not ctx.options.tape_export_on_exit or self.tape.store is None:
            return
        name, path = parse_export_on_exit(ctx.options.tape_export_on_exit)
        self.tape.flush()
        try:
            result = export_session(
                self.tape.store, self.tape.session_id, name, path, self._options()
            )
        except (ExportError, StoreError, OSError) as exc:
            logger.error("mitmtape: export on exit failed: %s", exc)
            return
        logger.info(result.message())

    def _options(self) -> ExportOptions:
        return ExportOptions(
            redact=ctx.options.tape_redact, artifacts_keep=ctx.options.tape_artifacts_keep
        )

    @command.command("tape.export.formats")
    def formats(self) -> Sequence[str]:
        """The export format names, for choosers."""
        return list(FORMATS)

    @command.command("tape.export")
    def export(self, format: str, path: types.Path) -> str:
        """Export the active session; a folder PATH gets the default file name."""
        return self.export_session(self.tape.session_id, format, path)

    @command.command("tape.export.session")
    def export_session(self, session: str, format: str, path: types.Path) -> str:
        """Export a session (id or exact name) to PATH (a file, or a folder)."""
        store = self.tape.require_store()
        self._check_format(format)
        self.tape.flush()
        options = self._options()
        try:
            found = store.get_session(session)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None

        def work() -> str:
            return self._announced(export_session(store, found.id, format, path, options))

        return self.tape.background(work, f"export of {found.name!r} as {format}")

    @command.command("tape.export.flows")
    def export_flows(self, format: str, flows: Sequence[flow.Flow], path: types.Path) -> str:
        """Export flows from mitmproxy's view (e.g. @marked, @shown) straight to PATH."""
        store = self.tape.require_store()
        self._check_format(format)
        records = [
            flow_to_record(f, "") for f in flows if isinstance(f, http.HTTPFlow) and f.request
        ]
        if not records:
            raise exceptions.CommandError("no HTTP flows selected to export")
        selection = Session(id="", name=SELECTION_NAME)
        options = self._options()

        def work() -> str:
            return self._announced(export_records(store, records, selection, format, path, options))

        return self.tape.background(work, f"export of {len(records)} selected flows")

    def _announced(self, result: ExportResult) -> str:
        self.tape.api.announce_artifact(result.artifact)
        return result.message()

    @staticmethod
    def _check_format(name: str) -> None:
        try:
            get_format(name)
        except ExportError as exc:
            raise exceptions.CommandError(str(exc)) from None
