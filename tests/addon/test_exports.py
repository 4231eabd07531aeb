from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from mitmtape.text import human_size


def test_export_active_session_to_a_folder_tells_the_status_bar(tape, alerts, tmp_path) -> None:
    addon, tctx = tape
    addon.response(tflow.tflow(resp=True))
    assert tctx.command(addon.exports.export, "json", str(tmp_path)) is None
    [exported] = tmp_path.glob("*.json")
    assert alerts()[-1] == f"Exported 1 flow to {exported} ({human_size(exported.stat().st_size)})"
    assert json.loads(exported.read_text())[0]["request"]["url"] == "http://address:22/path"


UMASK_EXPORT = """
import sys
from mitmproxy.test import taddons, tflow
from mitmtape.addon import MitmTape
addon = MitmTape()
with taddons.context(addon) as tctx:
    tctx.configure(addon, tape_db=sys.argv[1])
    addon.response(tflow.tflow(resp=True))
    tctx.command(addon.exports.export, "har", sys.argv[2])
    addon.done()
"""


@pytest.mark.parametrize("umask", [0o002, 0o027])
def test_an_export_gets_the_users_umask_not_0600(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "shared.har"
    subprocess.run(
        [sys.executable, "-c", UMASK_EXPORT, str(tmp_path / "t.db"), str(target)],
        check=True,
        umask=umask,
        timeout=60,
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_export_named_session_with_redaction(tape, tmp_path: Path) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_session="secrets", tape_redact="true")
    flow = tflow.tflow(resp=True)
    flow.request.headers["authorization"] = "Bearer sekrit-token"
    addon.response(flow)
    target = tmp_path / "out.har"
    tctx.command(addon.exports.export_session, "secrets", "har", str(target))
    text = target.read_text()
    assert "sekrit-token" not in text and "Bearer ***" in text


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnLXNlY3JldA"


def _secret_flow() -> tflow.tflow:
    flow = tflow.tflow(resp=True)
    flow.request.url = f"http://127.0.0.1/cb?tenant_pin=pin-s3&id={JWT}"
    flow.request.headers["authorization"] = "Bearer sekrit-token"
    return flow


@pytest.mark.parametrize(
    ("mode", "jwt_left"),
    [("true", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.***"), ("strict", "***")],
)
def test_addon_exports_take_the_mode_and_names_and_log_what_they_redacted(
    tape, alerts, tmp_path: Path, mode: str, jwt_left: str
) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_redact=mode, tape_redact_names="tenant-pin, other")
    target = tmp_path / "sel.json"
    addon.exports.export_flows("json", [_secret_flow()], str(target))
    url = json.loads(target.read_text())[0]["request"]["url"]
    assert url == f"http://127.0.0.1/cb?tenant_pin=***&id={jwt_left}"
    assert alerts()[-1].endswith("; redacted 1 header, 1 query parameter, 1 JWT")


def test_addon_exports_leave_out_bodies_by_url_pattern(tape, alerts, tmp_path: Path) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_redact="true", tape_redact_bodies="http://127.0.0.1/cb*")
    target = tmp_path / "sel.json"
    addon.exports.export_flows("json", [_secret_flow()], str(target))
    flow = json.loads(target.read_text())[0]
    assert flow["response"]["body"]["omitted"] == "redacted"
    assert "2 bodies" in alerts()[-1]


def test_addon_exports_without_redaction_are_lossless_and_say_nothing_of_it(
    tape, alerts, tmp_path: Path
) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_redact_names="tenant-pin")
    target = tmp_path / "sel.json"
    addon.exports.export_flows("json", [_secret_flow()], str(target))
    assert "pin-s3" in target.read_text() and "redacted" not in alerts()[-1]


def test_tape_redact_refuses_other_words(tape) -> None:
    addon, tctx = tape
    with pytest.raises(exceptions.OptionsError, match="tape_redact"):
        tctx.configure(addon, tape_redact="maybe")


def test_export_selected_flows_from_the_view(tape, alerts, tmp_path: Path) -> None:
    addon, _tctx = tape
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    target = tmp_path / "sel.csv"
    assert addon.exports.export_flows("csv", flows, str(target)) is None
    assert alerts()[-1].startswith(f"Exported 3 flows to {target} (")
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


def test_the_format_is_a_choice_the_console_checks(tape) -> None:
    _addon, tctx = tape
    with pytest.raises(exceptions.CommandError, match="Invalid choice"):
        tctx.master.commands.call_strings("tape.export", ["yaml", "/tmp/never"])


def test_an_export_in_a_running_proxy_includes_flows_captured_before_it(
    tape, alerts, tmp_path: Path
) -> None:
    """The command returns at once; the job flushes the writer itself, off the event loop."""
    addon, tctx = tape
    addon.running()
    for _ in range(30):
        addon.response(tflow.tflow(resp=True))
    target = tmp_path / "live.json"
    tctx.command(addon.exports.export, "json", str(target))
    addon.recorder.finish_jobs()
    assert len(json.loads(target.read_text())) == 30
    assert alerts()[-1].startswith(f"Exported 30 flows to {target}")


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
    [artifact] = addon.recorder.store.list_artifacts()
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
