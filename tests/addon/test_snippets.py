from __future__ import annotations

from pathlib import Path

import pyperclip
import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from mitmtape.addon.snippets import CopyCommands


def test_copy_puts_the_snippet_on_the_clipboard_and_names_the_flow(monkeypatch, alerts) -> None:
    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    flow = tflow.tflow(resp=True)
    assert CopyCommands().copy("curl", flow) is None
    assert alerts() == ["Copied GET /path as curl"]
    assert copied[0].startswith("curl ") and flow.request.pretty_url in copied[0]


def test_copy_without_a_clipboard_says_what_to_do(monkeypatch) -> None:
    def no_clipboard(_text: str) -> None:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    way_out = r"^no clipboard available, use tape.copy.file python @focus PATH \("
    with pytest.raises(exceptions.CommandError, match=way_out):
        CopyCommands().copy("python", tflow.tflow(resp=True))


def test_copy_file_writes_each_target(tmp_path: Path, alerts) -> None:
    flow = tflow.tflow(resp=True)
    for target in CopyCommands().targets():
        path = tmp_path / f"snippet.{target}"
        assert CopyCommands().copy_file(target, flow, str(path)) is None
        assert path.read_text().strip()
    assert "requests." in (tmp_path / "snippet.python").read_text()
    assert alerts()[-1] == f"Wrote GET /path as markdown to {tmp_path / 'snippet.markdown'}"


def test_unknown_target_is_named() -> None:
    with pytest.raises(exceptions.CommandError, match="unknown copy-as-code target 'perl'"):
        CopyCommands().copy_file("perl", tflow.tflow(resp=True), "/tmp/never")


def test_the_target_is_a_choice_the_console_checks(tape) -> None:
    _addon, tctx = tape
    with pytest.raises(exceptions.CommandError, match="Invalid choice"):
        tctx.master.commands.call_strings("tape.copy.file", ["perl", "@focus", "/tmp/never"])
