"""Copy-as-code doors of the addon: the clipboard, a file, and the target list for choosers.

The snippet follows `tape_redact` (and its names and body patterns) as exports do, and the log
line says what was masked; Markdown masks credential headers whatever the option says.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pyperclip
from mitmproxy import command, ctx, exceptions, flow, http, types

from mitmtape.addon.outcome import tell
from mitmtape.capture.record import flow_to_record
from mitmtape.codegen import TARGETS, generate
from mitmtape.export.redaction import parse_mode, redact_one, split_list

TARGET_CHOICE = types.Choice("tape.copy.targets")


def snippet_of(target: str, chosen: flow.Flow) -> tuple[str, str, str]:
    """The snippet for a flow in mitmproxy's view, redacted as `tape_redact` says; how the
    person knows the flow (`GET /api/items`); and what was masked (`; redacted 1 header`, or
    nothing when redaction is off). Errors are ones a person can act on."""
    if not isinstance(chosen, http.HTTPFlow):
        raise exceptions.CommandError("copy as code works on HTTP flows only")
    record, tally = redact_one(
        flow_to_record(chosen, ""),
        parse_mode(ctx.options.tape_redact),
        split_list(ctx.options.tape_redact_names),
        split_list(ctx.options.tape_redact_bodies),
    )
    try:
        snippet = generate(target, record)
    except ValueError as exc:
        raise exceptions.CommandError(str(exc)) from None
    if tally is None:
        return snippet, f"{chosen.request.method} {chosen.request.path}", ""
    # The redacted URL's path: the log line must not show the `?token=` the snippet hides.
    url = urlsplit(record.request.url)
    path = f"{url.path or '/'}?{url.query}" if url.query else url.path or "/"
    return snippet, f"{chosen.request.method} {path}", f"; redacted {tally.text()}"


class CopyCommands:
    @command.command("tape.copy.targets")
    def targets(self) -> Sequence[str]:
        """The copy-as-code targets, for choosers."""
        return list(TARGETS)

    @command.command("tape.copy")
    @command.argument("target", type=TARGET_CHOICE)
    def copy(self, target: str, flow: flow.Flow) -> None:
        """Put a flow on the clipboard as code: curl, fetch, python, httpie or markdown."""
        snippet, named, redacted = snippet_of(target, flow)
        try:
            pyperclip.copy(snippet)
        except pyperclip.PyperclipException as exc:
            # The way out first: the console's status bar cuts pyperclip's long reason short.
            raise exceptions.CommandError(
                f"no clipboard available, use tape.copy.file {target} @focus PATH ({exc})"
            ) from None
        tell(f"Copied {named} as {target}{redacted}")

    @command.command("tape.copy.file")
    @command.argument("target", type=TARGET_CHOICE)
    def copy_file(self, target: str, flow: flow.Flow, path: types.Path) -> None:
        """Write a flow as code to a file."""
        snippet, named, redacted = snippet_of(target, flow)
        destination = Path(path).expanduser()
        try:
            destination.write_text(snippet + "\n", encoding="utf-8")
        except OSError as exc:
            raise exceptions.CommandError(f"cannot write {destination}: {exc.strerror}") from None
        tell(f"Wrote {named} as {target} to {destination}{redacted}")
