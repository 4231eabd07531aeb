"""Console keybindings: the most used doors on keys mitmproxy 11 and 12 leave free.

Bound with mitmproxy's own chooser, the way its `x` export key works, and only in the console
(mitmdump and mitmweb have no keymap). Option `tape_keys` turns them on and off; unloading the
script takes them away again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from mitmproxy import command, ctx
from mitmproxy.addonmanager import Loader

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


def _keymap() -> Any | None:
    """The console's keymap; mitmdump and mitmweb have none."""
    return getattr(ctx.master, "keymap", None)


def bind(keymap: Any) -> None:
    for binding in BINDINGS:
        keymap.add(binding.key, binding.command, binding.contexts, binding.help)


def unbind(keymap: Any) -> None:
    """Remove mitmtape's bindings only: a key the person has bound to something else stays."""
    for binding in BINDINGS:
        for context in binding.contexts:
            bound = keymap.get(context, binding.key)
            if bound is not None and bound.command.strip() == binding.command.strip():
                keymap.remove(binding.key, [context])


class KeyCommands:
    def __init__(self) -> None:
        # Keys are bound once mitmproxy runs (the console's keymap is complete by then).
        self.started = False

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "tape_keys", bool, True, "Bind mitmtape's console keys (T, Y, y, N, J); false: none."
        )

    def running(self) -> None:
        self.started = True
        self._apply()

    def configure(self, updated: set[str]) -> None:
        if "tape_keys" in updated and self.started:
            self._apply()

    def done(self) -> None:
        keymap = _keymap()
        if keymap is not None:
            unbind(keymap)

    def _apply(self) -> None:
        keymap = _keymap()
        if keymap is None:
            return
        if ctx.options.tape_keys:
            bind(keymap)
        else:
            unbind(keymap)

    @command.command("tape.keys")
    def keys(self) -> Sequence[str]:
        """The console keys mitmtape binds, and what each does."""
        return [f"{b.key}  ({', '.join(b.contexts)})  {b.help}" for b in BINDINGS]
