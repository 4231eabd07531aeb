"""mitmtape in the real mitmproxy console (urwid in a tmux pane): keys, status bar, data viewer.

A command that does something leaves the screen as it was and tells its outcome in the status
bar; an answer opens the data viewer.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mitmtape.store import Store
from tests.e2e.mitmdump import TAPE_SCRIPT, venv_tool, wait_for_port
from tests.ports import free_port

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"
SCREEN_COLUMNS, SCREEN_ROWS = 200, 50
SCREEN_WAIT_S = 30.0
POLL_S = 0.1


class Console:
    """`mitmproxy -s addon/tape.py` in a detached tmux session of its own tmux server."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.db = folder / "tape.db"
        self.socket = f"mitmtape-test-{self.port}"
        args = [
            venv_tool("mitmproxy"), "--listen-host", "127.0.0.1", "-p", str(self.port),
            "--set", f"confdir={folder / 'confdir'}", "-s", str(TAPE_SCRIPT),
            "--set", f"tape_db={self.db}", "--set", "console_eventlog_verbosity=info",
        ]  # fmt: skip
        # No display: the copy key meets a machine without a clipboard.
        command = "env -u DISPLAY -u WAYLAND_DISPLAY " + shlex.join(args)
        self.tmux("new-session", "-d", "-x", str(SCREEN_COLUMNS), "-y", str(SCREEN_ROWS), command)
        wait_for_port(self.port, SCREEN_WAIT_S)
        # Listening comes a moment before the script has loaded and opened its database.
        self.wait_for(lambda _screen: self.db.exists(), f"the database {self.db} made")
        self.wait_for_text("[scripts:1]")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def wait_for(self, shown: Callable[[str], bool], what: str) -> str:
        """The screen once `shown` holds for it; polled up to a deadline."""
        deadline = time.monotonic() + SCREEN_WAIT_S
        screen = self.screen()
        while not shown(screen):
            if time.monotonic() > deadline:
                pytest.fail(f"the console never showed {what}; the screen:\n{screen}")
            time.sleep(POLL_S)
            screen = self.screen()
        return screen

    def wait_for_text(self, text: str) -> str:
        return self.wait_for(lambda screen: text in screen, repr(text))

    def wait_for_status(self, level: str, text: str) -> str:
        """The status bar's line for a log entry: `Alert: [12:00:00.000] Exported ...`."""
        line = re.compile(rf"^{level}: (\[[\d:.]+\] )?{re.escape(text)}", re.MULTILINE)
        return self.wait_for(lambda screen: line.search(screen) is not None, f"{level}: {text}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux", pytrace=False)
    opened = Console(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def sessions(db: Path) -> dict[str, str]:
    store = Store(db)
    try:
        return {s.name: s.id for s in store.list_sessions()}
    finally:
        store.close()


def test_the_console_keys_tell_outcomes_in_the_status_bar(
    console: Console, upstream: int, tmp_path: Path
) -> None:
    with httpx.Client(proxy=console.proxy, timeout=10) as client:
        for path in ("/one", "/two", "/three"):
            client.get(f"http://127.0.0.1:{upstream}{path}")
    console.wait_for_text("/three")

    console.press("T")
    console.wait_for_text("har")  # mitmproxy's chooser lists the formats; har comes first
    console.press("Enter")
    console.wait_for_text("tape.export har")
    target = tmp_path / "out.har"
    console.type(str(target))
    console.press("Enter")
    screen = console.wait_for_status("Alert", f"Exported 3 flows to {target} (")
    assert "Data viewer" not in screen
    assert target.exists()

    console.press("Y")
    console.wait_for_text("curl")
    console.press("Enter")
    screen = console.wait_for_status(
        "Error", "no clipboard available, use tape.copy.file curl @focus PATH"
    )
    assert "Data viewer" not in screen

    console.press("N")
    console.wait_for_text("tape.import.new")
    console.type(str(SAMPLES / "mitmproxy-savehar.har"))
    console.press("Enter")
    screen = console.wait_for_status(
        "Alert", "Imported 10 flows into 'mitmproxy-savehar.har (imported)'"
    )
    assert "Data viewer" not in screen

    known = sessions(console.db)
    imported = known.pop("mitmproxy-savehar.har (imported)")
    [recorded] = known.values()
    console.press(":")
    console.type(f"tape.compare {recorded} {imported}")
    console.press("Enter")
    screen = console.wait_for_text("Data viewer")
    assert "added" in screen and "removed" in screen
