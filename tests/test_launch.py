"""`mitmtape proxy|console|web`: mitmproxy's tools with mitmtape loaded from the package, every
further argument passed through unchanged, in the same environment as mitmtape itself."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from mitmproxy.addons.script import load_script

import mitmtape
from mitmtape import cli
from mitmtape.addon import MitmTape
from tests.e2e.launch import launched_proxy, process_command_line, recorded_paths
from tests.e2e.mitmdump import venv_tool
from tests.e2e.servers import http_server

SCRIPT = Path(mitmtape.__file__).parent / "script" / "tape.py"


def command_of(*argv: str) -> list[str]:
    args = cli.build_parser().parse_args(argv)
    return cli.tool_command(args.tool, args.db, args.tool_args)


def passed_through(command: list[str]) -> list[str]:
    """What follows the `-s SCRIPT` that mitmtape adds."""
    return command[command.index(str(SCRIPT)) + 1 :]


@pytest.mark.parametrize(
    ("subcommand", "tool"), [("proxy", "mitmdump"), ("console", "mitmproxy"), ("web", "mitmweb")]
)
def test_each_subcommand_runs_its_tool_on_this_interpreter(subcommand: str, tool: str) -> None:
    command = command_of(subcommand)
    assert command[0] == sys.executable
    assert f"from mitmproxy.tools.main import {tool}; sys.exit({tool}())" in command[3]
    assert command[4:] == ["-s", str(SCRIPT)]


def test_arguments_after_the_subcommand_reach_mitmproxy_unchanged() -> None:
    given = ["--listen-port", "8081", "--help", "-h", "--db", "x.db", "--", "~d example.com"]
    assert passed_through(command_of("proxy", *given)) == given


def test_db_before_the_subcommand_becomes_the_tape_db_option() -> None:
    command = command_of("--db", "tape.db", "console", "--set", "tape_session=x")
    assert passed_through(command) == ["--set", "tape_db=tape.db", "--set", "tape_session=x"]
    assert "tape_db" not in " ".join(command_of("console"))


def test_main_becomes_the_tool(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`os.execv` replaces mitmtape with the tool; if the interpreter cannot be started, one
    line says so."""
    started: list[list[str]] = []

    def execv(path: str, argv: list[str]) -> None:
        started.append(argv)
        raise OSError("exec format error")

    monkeypatch.setattr(cli.os, "execv", execv)
    assert cli.main(["web", "--web-port", "9000"]) == 1
    assert started == [command_of("web", "--web-port", "9000")]
    assert capsys.readouterr().err == "mitmtape: cannot start mitmweb: exec format error\n"


def test_the_script_is_alone_in_its_folder_and_loads_mitmtape() -> None:
    """mitmproxy puts the script's folder on `sys.path`: nothing else there may shadow a module."""
    beside = {p.name for p in SCRIPT.parent.iterdir() if p.name != "__pycache__"}
    assert beside == {"__init__.py", "tape.py"}
    module = load_script(str(SCRIPT))
    assert module is not None
    [addon] = module.addons
    assert isinstance(addon, MitmTape)


@pytest.mark.e2e
def test_mitmtape_proxy_records_into_the_database(tmp_path: Path) -> None:
    proxy = launched_proxy(tmp_path, venv_tool("mitmtape"), "--set", "tape_session=launched")
    with http_server() as upstream:
        proxy.start()
        try:
            assert f"tape_db={proxy.db}" in process_command_line(proxy.process.pid)
            with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
                assert client.get(f"http://127.0.0.1:{upstream}/via-mitmtape").status_code == 200
            assert proxy.stop() == 0
        finally:
            proxy.kill()
    assert recorded_paths(proxy.db, "launched") == ["/via-mitmtape"]
