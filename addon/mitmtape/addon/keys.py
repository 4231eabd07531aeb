"""Console keybindings: the most used doors on keys mitmproxy 11 and 12 leave free.

Bound with mitmproxy's own chooser, the way its `x` export key works, and only in the console
(mitmdump and mitmweb have no keymap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from mitmproxy import command, ctx

FLOW_CONTEXTS = ["flowlist", "flowview"]


class KeyBinding(NamedTuple):
    key: str
    command: str
    contexts: list[str]
    help: str


BINDINGS = (
    KeyBinding(
        "T",
        "console.choose.cmd Format tape.export.formats\nconsole.command tape.export {choice} ",
        ["global"],
        "mitmtape: export the active session (format, then path)",
    ),
    KeyBinding(
        "Y",
        "console.choose.cmd Target tape.copy.targets\ntape.copy {choice} @focus",
        FLOW_CONTEXTS,
        "mitmtape: copy this flow as code (choose the target)",
    ),
    KeyBinding("y", "tape.copy curl @focus", FLOW_CONTEXTS, "mitmtape: copy this flow as cURL"),
    KeyBinding(
        "N",
        "console.command tape.import.new ",
        ["global"],
        "mitmtape: import a HAR or JSON file into a new session",
    ),
    KeyBinding(
        "J",
        "console.command tape.session.switch ",
        ["global"],
        "mitmtape: record into another session",
    ),
)


class KeyCommands:
    def running(self) -> None:
        keymap = getattr(ctx.master, "keymap", None)
        if keymap is None:
            return
        for binding in BINDINGS:
            keymap.add(binding.key, binding.command, binding.contexts, binding.help)

    @command.command("tape.keys")
    def keys(self) -> Sequence[str]:
        """The console keys mitmtape binds, and what each does."""
        return [f"{b.key}  ({', '.join(b.contexts)})  {b.help}" for b in BINDINGS]
