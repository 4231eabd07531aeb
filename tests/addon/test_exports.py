from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow


def test_export_active_session_to_a_folder(tape, tmp_path: Path) -> None:
    addon, tctx = tape
    addon.response(tflow.tflow(resp=True))
    message = tctx.command(addon.exports.export, "json", str(tmp_path))
    assert message.startswith("Exported 1 flow to ")
    [exported] = tmp_path.glob("*.json")
    assert json.loads(exported.read_text())[0]["request"]["url"] == "http://address:22/path"


def test_export_named_session_with_redaction(tape, tmp_path: Path) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_session="secrets", tape_redact=True)
    flow = tflow.tflow(resp=True)
    flow.request.headers["authorization"] = "Bearer sekrit-token"
    addon.response(flow)
    target = tmp_path / "out.har"
    tctx.command(addon.exports.export_session, "secrets", "har", str(target))
    text = target.read_text()
    assert "sekrit-token" not in text and "Bearer ***" in text


def test_export_selected_flows_from_the_view(tape, tmp_path: Path) -> None:
    addon, _tctx = tape
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    target = tmp_path / "sel.csv"
    message = addon.exports.export_flows("csv", flows, str(target))
    assert "Exported 3 flows" in message
    assert len(target.read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("method", "args", "problem"),
    [
        ("export", ["yaml", "/tmp/x"], "unknown export format 'yaml'"),
        ("export_session", ["nope", "har", "/tmp/x"], "no session with id or name 'nope'"),
        ("export_flows", ["har", [], "/tmp/x"], "no HTTP flows selected"),
    ],
)
def test_export_command_errors(tape, method: str, args: list, problem: str) -> None:
    addon, _tctx = tape
    with pytest.raises(exceptions.CommandError, match=problem):
        getattr(addon.exports, method)(*args)


@pytest.mark.parametrize("value", ["har", "har:", "yaml:/tmp/x.yaml"])
def test_bad_export_on_exit_option_is_refused(tape, value: str) -> None:
    addon, tctx = tape
    with pytest.raises(exceptions.OptionsError, match="tape_export_on_exit"):
        tctx.configure(addon, tape_export_on_exit=value)


def test_tape_artifacts_keep_bounds_what_export_commands_keep(tape, tmp_path: Path) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_artifacts_keep=1)
    addon.response(tflow.tflow(resp=True))
    for name in ("a.json", "b.json"):
        tctx.command(addon.exports.export, "json", str(tmp_path / name))
    [artifact] = addon.store.list_artifacts()
    assert artifact.file_name == "b.json"


def test_a_negative_tape_artifacts_keep_is_refused(tape) -> None:
    addon, tctx = tape
    with pytest.raises(exceptions.OptionsError, match=r"tape_artifacts_keep: .* 0 or more"):
        tctx.configure(addon, tape_artifacts_keep=-1)


def test_the_api_inside_the_proxy_keeps_tape_artifacts_keep(tape) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_api=True, tape_api_port=0, tape_artifacts_keep=3)
    assert addon.api.server is not None and addon.api.server.artifacts_keep == 3
    tctx.configure(addon, tape_artifacts_keep=5)
    assert addon.api.server.artifacts_keep == 5
