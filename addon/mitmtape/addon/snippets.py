"""Copy-as-code doors of the addon: the clipboard, a file, and the target list for choosers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyperclip
from mitmproxy import command, exceptions, flow, http, types

from mitmtape.addon.outcome import tell
from mitmtape.capture.record import flow_to_record
from mitmtape.codegen import TARGETS, generate

TARGET_CHOICE = types.Choice("tape.copy.targets")


def snippet_of(target: str, chosen: flow.Flow) -> tuple[str, str]:
    """The snippet for a flow in mitmproxy's view and how the person knows the flow
    (`GET /api/items`), with errors a person can act on."""
    if not isinstance(chosen, http.HTTPFlow):
        raise exceptions.CommandError("copy as code works on HTTP flows only")
    try:
        snippet = generate(target, flow_to_record(chosen, ""))
    except ValueError as exc:
        raise exceptions.CommandError(str(exc)) from None
    return snippet, f"{chosen.request.method} {chosen.request.path}"


class CopyCommands:
    @command.command("tape.copy.targets")
    def targets(self) -> Sequence[str]:
        """The copy-as-code targets, for choosers."""
        return list(TARGETS)

    @command.command("tape.copy")
    @command.argument("target", type=TARGET_CHOICE)
    def copy(self, target: str, flow: flow.Flow) -> None:
        """Put a flow on the clipboard as code: curl, fetch, python, httpie or markdown."""
        snippet, named = snippet_of(target, flow)
        try:
            pyperclip.copy(snippet)
        except pyperclip.PyperclipException as exc:
            # The way out first: the console's status bar cuts pyperclip's long reason short.
            raise exceptions.CommandError(
                f"no clipboard available, use tape.copy.file {target} @focus PATH ({exc})"
            ) from None
        tell(f"Copied {named} as {target}")

    @command.command("tape.copy.file")
    @command.argument("target", type=TARGET_CHOICE)
    def copy_file(self, target: str, flow: flow.Flow, path: types.Path) -> None:
        """Write a flow as code to a file."""
        snippet, named = snippet_of(target, flow)
        destination = Path(path).expanduser()
        try:
            destination.write_text(snippet + "\n", encoding="utf-8")
        except OSError as exc:
            raise exceptions.CommandError(f"cannot write {destination}: {exc.strerror}") from None
        tell(f"Wrote {named} as {target} to {destination}")
