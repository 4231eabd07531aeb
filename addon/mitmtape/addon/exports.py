"""Export doors of the addon: `tape.export*` commands and the `tape_export_on_exit` option."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mitmproxy import command, ctx, exceptions, flow, http, types
from mitmproxy.addonmanager import Loader

from mitmtape.addon.recorder import Recorder
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
from mitmtape.export.redaction import MODES, parse_mode, split_list
from mitmtape.model import Session
from mitmtape.store import Artifact, StoreError

logger = logging.getLogger(__name__)

SELECTION_NAME = "selected flows"
FORMAT_CHOICE = types.Choice("tape.export.formats")

# Told of each artifact an export kept (the API's event stream).
ArtifactAnnouncer = Callable[[Artifact | None], None]


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
    """Exports run on a job thread: a large session never stalls the proxy."""

    def __init__(self, recorder: Recorder, announce_artifact: ArtifactAnnouncer) -> None:
        self.recorder = recorder
        self.announce_artifact = announce_artifact

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "tape_redact",
            str,
            "false",
            "Mask secrets in exports: false (lossless), true, or strict (JWTs masked whole).",
            choices=list(MODES),
        )
        loader.add_option(
            "tape_redact_names",
            str,
            "",
            "Names to mask besides the defaults when tape_redact is on, comma-separated.",
        )
        loader.add_option(
            "tape_redact_bodies",
            str,
            "",
            "URL substrings or * globs whose bodies exports leave out when tape_redact is on, "
            "comma-separated.",
        )
        loader.add_option(
            "tape_export_on_exit",
            str,
            "",
            f"Export the active session when the proxy stops: FORMAT:PATH, "
            f"FORMAT one of {', '.join(FORMATS)}.",
        )

    def configure(self, updated: set[str]) -> None:
        if "tape_redact" in updated:
            try:
                parse_mode(ctx.options.tape_redact)
            except ValueError as exc:
                raise exceptions.OptionsError(f"tape_redact: {exc}") from None
        if "tape_export_on_exit" in updated and ctx.options.tape_export_on_exit:
            parse_export_on_exit(ctx.options.tape_export_on_exit)

    def export_on_exit(self) -> None:
        """Called by the addon's `done` once running jobs are over, before the store closes."""
        store = self.recorder.store
        if not ctx.options.tape_export_on_exit or store is None:
            return
        name, path = parse_export_on_exit(ctx.options.tape_export_on_exit)
        self.recorder.flush()
        try:
            result = export_session(store, self.recorder.session_id, name, path, self._options())
        except (ExportError, StoreError, OSError) as exc:
            logger.error("mitmtape: export on exit failed: %s", exc)
            return
        logger.info(result.message())

    def _options(self) -> ExportOptions:
        return ExportOptions(
            redact=parse_mode(ctx.options.tape_redact),
            redact_names=split_list(ctx.options.tape_redact_names),
            redact_bodies=split_list(ctx.options.tape_redact_bodies),
            artifacts_keep=ctx.options.tape_artifacts_keep,
            cancelled=self.recorder.cancelled,
        )

    @command.command("tape.export.formats")
    def formats(self) -> Sequence[str]:
        """The export format names, for choosers."""
        return list(FORMATS)

    @command.command("tape.export")
    @command.argument("format", type=FORMAT_CHOICE)
    def export(self, format: str, path: types.Path) -> None:
        """Export the active session; a folder PATH gets the default file name."""
        self.export_session(self.recorder.session_id, format, path)

    @command.command("tape.export.session")
    @command.argument("format", type=FORMAT_CHOICE)
    def export_session(self, session: str, format: str, path: types.Path) -> None:
        """Export a session (id or exact name) to PATH (a file, or a folder)."""
        store = self.recorder.require_store()
        self._check_format(format)
        options = self._options()
        try:
            found = store.get_session(session)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None

        def work() -> str:
            # Flows captured before the command are committed first, off the event loop.
            self.recorder.flush()
            return self._announced(export_session(store, found.id, format, path, options))

        self.recorder.run(work, f"export of {found.name!r} as {format}")

    @command.command("tape.export.flows")
    @command.argument("format", type=FORMAT_CHOICE)
    def export_flows(self, format: str, flows: Sequence[flow.Flow], path: types.Path) -> None:
        """Export flows from mitmproxy's view (e.g. @marked, @shown) straight to PATH."""
        store = self.recorder.require_store()
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

        self.recorder.run(work, f"export of {len(records)} selected flows")

    def _announced(self, result: ExportResult) -> str:
        self.announce_artifact(result.artifact)
        return result.message()

    @staticmethod
    def _check_format(name: str) -> None:
        """Calls from scripts and mitmweb's endpoint may bypass the console's Choice check."""
        try:
            get_format(name)
        except ExportError as exc:
            raise exceptions.CommandError(str(exc)) from None
