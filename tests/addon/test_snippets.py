"""Copy as code from the addon: clipboard, file, targets, and `tape_redact` followed."""

from __future__ import annotations

import json
from pathlib import Path

import pyperclip
import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import tflow

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnLXNlY3JldA"


@pytest.fixture
def copied(monkeypatch) -> list[str]:
    """What reached the clipboard."""
    texts: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", texts.append)
    return texts


def secret_flow() -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.path = "/cb?access_token=tok-s3&page=1"
    flow.request.headers["Authorization"] = "Bearer bearer-s3"
    flow.request.headers["X-Debug"] = JWT
    flow.request.headers["Content-Type"] = "application/json"
    flow.request.content = json.dumps({"password": "pw-s3", "user": "alice"}).encode()
    return flow


def test_copy_puts_the_snippet_on_the_clipboard_and_names_the_flow(tape, copied, alerts) -> None:
    addon, _tctx = tape
    flow = tflow.tflow(resp=True)
    assert addon.copies.copy("curl", flow) is None
    assert alerts() == ["Copied GET /path as curl"]
    assert copied[0].startswith("curl ") and flow.request.pretty_url in copied[0]


def test_copy_without_a_clipboard_says_what_to_do(tape, monkeypatch) -> None:
    addon, _tctx = tape

    def no_clipboard(_text: str) -> None:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    way_out = r"^no clipboard available, use tape.copy.file python @focus PATH \("
    with pytest.raises(exceptions.CommandError, match=way_out):
        addon.copies.copy("python", tflow.tflow(resp=True))


def test_copy_file_writes_each_target(tape, tmp_path: Path, alerts) -> None:
    addon, _tctx = tape
    flow = tflow.tflow(resp=True)
    for target in addon.copies.targets():
        path = tmp_path / f"snippet.{target}"
        assert addon.copies.copy_file(target, flow, str(path)) is None
        assert path.read_text().strip()
    assert "requests." in (tmp_path / "snippet.python").read_text()
    assert alerts()[-1] == f"Wrote GET /path as markdown to {tmp_path / 'snippet.markdown'}"


def test_unknown_target_is_named(tape) -> None:
    addon, _tctx = tape
    with pytest.raises(exceptions.CommandError, match="unknown copy-as-code target 'perl'"):
        addon.copies.copy_file("perl", tflow.tflow(resp=True), "/tmp/never")


def test_the_target_is_a_choice_the_console_checks(tape) -> None:
    _addon, tctx = tape
    with pytest.raises(exceptions.CommandError, match="Invalid choice"):
        tctx.master.commands.call_strings("tape.copy.file", ["perl", "@focus", "/tmp/never"])


def test_copy_keeps_every_secret_while_tape_redact_is_false(tape, copied, alerts) -> None:
    addon, _tctx = tape
    addon.copies.copy("curl", secret_flow())
    assert all(secret in copied[0] for secret in ("tok-s3", "bearer-s3", "pw-s3", JWT))
    assert alerts() == ["Copied GET /cb?access_token=tok-s3&page=1 as curl"]


def test_copy_follows_tape_redact_and_says_what_it_masked(tape, copied, alerts) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_redact="true", tape_redact_names="user")
    addon.copies.copy("python", secret_flow())
    snippet = copied[0]
    assert not any(secret in snippet for secret in ("tok-s3", "bearer-s3", "pw-s3", "alice"))
    assert "Bearer ***" in snippet and "eyJzdWIiOiJhbGljZSJ9.***" in snippet
    # The log line shows the redacted path too.
    assert alerts() == [
        "Copied GET /cb?access_token=***&page=1 as python; redacted 1 header, "
        "1 query parameter, 2 body fields, 1 JWT"
    ]


def test_copy_file_in_strict_mode_masks_jwts_whole(tape, tmp_path: Path, alerts) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_redact="strict", tape_redact_bodies="/cb")
    path = tmp_path / "snippet.sh"
    addon.copies.copy_file("curl", secret_flow(), str(path))
    snippet = path.read_text()
    assert "eyJzdWIiOiJhbGljZSJ9" not in snippet and "pw-s3" not in snippet
    assert alerts()[-1].endswith("; redacted 1 header, 1 query parameter, 1 JWT, 2 bodies")
