"""Copy-as-code doors of the addon: the clipboard, a file, and the target list for choosers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyperclip
from mitmproxy import command, exceptions, flow, http, types

from mitmtape.capture.record import flow_to_record
from mitmtape.codegen import TARGETS, generate

logger = logging.getLogger(__name__)


def snippet_of(target: str, chosen: flow.Flow) -> str:
    """The snippet for a flow in mitmproxy's view, with errors a person can act on."""
    if not isinstance(chosen, http.HTTPFlow):
        raise exceptions.CommandError("copy as code works on HTTP flows only")
    try:
        return generate(target, flow_to_record(chosen, ""))
    except ValueError as exc:
        raise exceptions.CommandError(str(exc)) from None


class CopyCommands:
    @command.command("tape.copy.targets")
    def targets(self) -> Sequence[str]:
        """The copy-as-code targets, for choosers."""
        return list(TARGETS)

    @command.command("tape.copy")
    def copy(self, target: str, flow: flow.Flow) -> str:
        """Put a flow on the clipboard as code: curl, fetch, python, httpie or markdown."""
        snippet = snippet_of(target, flow)
        try:
            pyperclip.copy(snippet)
        except pyperclip.PyperclipException as exc:
            raise exceptions.CommandError(
                f"no clipboard available ({exc}); use tape.copy.file {target} @focus PATH"
            ) from None
        message = f"Copied the flow as {target} to the clipboard"
        logger.info(message)
        return message

    @command.command("tape.copy.file")
    def copy_file(self, target: str, flow: flow.Flow, path: types.Path) -> str:
        """Write a flow as code to a file."""
        snippet = snippet_of(target, flow)
        destination = Path(path).expanduser()
        try:
            destination.write_text(snippet + "\n", encoding="utf-8")
        except OSError as exc:
            raise exceptions.CommandError(f"cannot write {destination}: {exc.strerror}") from None
        message = f"Wrote the flow as {target} to {destination}"
        logger.info(message)
        return message
