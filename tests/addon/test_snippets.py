from __future__ import annotations

from pathlib import Path

import pyperclip
import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow
from mitmproxy.tools.console import defaultkeys, keymap

from mitmtape.addon.keys import BINDINGS
from mitmtape.addon.snippets import CopyCommands


def test_copy_puts_the_snippet_on_the_clipboard(monkeypatch) -> None:
    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    flow = tflow.tflow(resp=True)
    message = CopyCommands().copy("curl", flow)
    assert message == "Copied the flow as curl to the clipboard"
    assert copied[0].startswith("curl ") and flow.request.pretty_url in copied[0]


def test_copy_without_a_clipboard_says_what_to_do(monkeypatch) -> None:
    def no_clipboard(_text: str) -> None:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    with pytest.raises(exceptions.CommandError, match=r"no clipboard available .* tape.copy.file"):
        CopyCommands().copy("python", tflow.tflow(resp=True))


def test_copy_file_writes_each_target(tmp_path: Path) -> None:
    flow = tflow.tflow(resp=True)
    for target in CopyCommands().targets():
        path = tmp_path / f"snippet.{target}"
        CopyCommands().copy_file(target, flow, str(path))
        assert path.read_text().strip()
    assert "requests." in (tmp_path / "snippet.python").read_text()


def test_unknown_target_is_named() -> None:
    with pytest.raises(exceptions.CommandError, match="unknown copy-as-code target 'perl'"):
        CopyCommands().copy_file("perl", tflow.tflow(resp=True), "/tmp/never")


def test_keys_are_free_in_this_mitmproxy_and_name_real_commands(tape) -> None:
    _addon, tctx = tape
    defaults = keymap.Keymap(tctx.master)
    defaultkeys.map(defaults)
    for binding in BINDINGS:
        for context in binding.contexts:
            taken = defaults.keys[context].get(binding.key)
            assert taken is None, f"{binding.key} is already {taken.command} in {context}"
            assert defaults.keys["global"].get(binding.key) is None
        commands = [line.split()[0] for line in binding.command.splitlines()]
        for name in commands:
            assert name.startswith("console.") or name in tctx.master.commands.commands, name
    ours = keymap.Keymap(tctx.master)
    for binding in BINDINGS:
        ours.add(binding.key, binding.command, binding.contexts, binding.help)


def test_tape_keys_lists_every_binding(tape) -> None:
    addon, tctx = tape
    listed = tctx.command(addon.keys.keys)
    assert [line.split()[0] for line in listed] == [b.key for b in BINDINGS]
