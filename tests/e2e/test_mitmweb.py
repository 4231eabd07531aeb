"""Every tape.* command works from mitmweb's command bar (its /commands/<name> endpoint)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mitmtape.export.formats import FORMATS
from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump
from tests.ports import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"
PASSWORD = "mitmtape-test"
XSRF = "0123456789abcdef"
TIME_STAMP = re.compile(r"^\[[\d:.]+\] ")
# A running mitmweb answers, and its workers finish, within this time.
WAIT_SECONDS = 30


class CommandBar:
    """mitmweb's command endpoint, with its sign-in and XSRF rules."""

    def __init__(self, port: int) -> None:
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {PASSWORD}"},
            timeout=30,
        )
        self.client.get("/").raise_for_status()
        # Tornado's XSRF check compares the header with the cookie; mitmweb 11 and 12 name
        # the cookie differently, so set both to one value of our own.
        for cookie in ("_xsrf", "_mitmproxy_xsrf"):
            self.client.cookies.set(cookie, XSRF)
        self.client.headers["X-XSRFToken"] = XSRF

    def run(self, command: str, *arguments: str) -> dict:
        reply = self.client.post(f"/commands/{command}", json={"arguments": list(arguments)})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def does(self, command: str, *arguments: str) -> str:
        """Run a command that does something: it returns nothing and tells the log at ALERT
        (what the console's status bar shows); the first new alert is its outcome."""
        seen = len(self.alerts())
        assert self.run(command, *arguments).get("value") is None
        told = wait_until(lambda: self.alerts()[seen:], WAIT_SECONDS, f"{command} telling")
        return told[0]

    def alerts(self) -> list[str]:
        """The ALERT entries of mitmweb's event log, without their `[12:00:00.000] ` time."""
        events = self.client.get("/events").json()
        return [
            TIME_STAMP.sub("", event["message"], count=1)
            for event in events
            if event["level"] == "alert"
        ]


@pytest.fixture
def mitmweb(tmp_path: Path) -> Iterator[tuple[MitmDump, CommandBar]]:
    web_port = free_port()
    proxy = MitmDump(
        tmp_path, "--set", f"web_port={web_port}", "--set", "web_host=127.0.0.1",
        "--set", "web_open_browser=false", "--set", f"web_password={PASSWORD}", tool="mitmweb",
    )  # fmt: skip
    proxy.start()
    try:
        bar = wait_until(lambda: command_bar(web_port), WAIT_SECONDS, "mitmweb answering")
        yield proxy, bar
        bar.client.close()
    finally:
        proxy.kill()


def command_bar(port: int) -> CommandBar | None:
    """mitmweb's command bar, or None while mitmweb does not answer yet."""
    try:
        return CommandBar(port)
    except httpx.HTTPError:
        return None


def wait_for(path: Path) -> Path:
    """Exports and imports run on a worker thread in a running mitmproxy: wait for their file."""
    wait_until(path.exists, WAIT_SECONDS, f"writing {path}")
    return path


def test_every_tape_command_runs_from_mitmweb(mitmweb, upstream: int, tmp_path: Path) -> None:
    proxy, bar = mitmweb
    with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
        client.get(f"http://127.0.0.1:{upstream}/web-one")
    assert bar.does("tape.session.new", "web").startswith("Recording into new session 'web'")
    with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
        client.get(f"http://127.0.0.1:{upstream}/web-two")
    listing = bar.does("tape.session.list")  # an answer: in mitmweb, told in the log
    assert "web" in listing
    assert "now named 'web renamed'" in bar.does("tape.session.rename", "web", "web renamed")
    [first] = re.findall(r"\b([0-9A-Z]{26})\b +\d+ flows  \d{4}-", listing)
    assert bar.does("tape.session.switch", first).startswith("Recording into session")

    assert bar.run("tape.export.formats")["value"] == list(FORMATS)
    told = bar.does("tape.export", "har", str(tmp_path / "active.har"))
    assert told.startswith(f"Exported 1 flow to {tmp_path / 'active.har'} (")
    bar.does("tape.export.session", "web renamed", "csv", str(tmp_path / "web.csv"))
    bar.does("tape.export.flows", "json", "@all", str(tmp_path / "view.json"))
    har = json.loads(wait_for(tmp_path / "active.har").read_text())
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [
        f"http://127.0.0.1:{upstream}/web-one"
    ]
    assert "/web-two" in wait_for(tmp_path / "web.csv").read_text()
    assert len(json.loads(wait_for(tmp_path / "view.json").read_text())) == 2

    told = bar.does("tape.import.new", str(SAMPLES / "mitmproxy-savehar.har"))
    assert told.startswith("Imported 10 flows into 'mitmproxy-savehar.har (imported)'")
    assert bar.does("tape.import", str(SAMPLES / "chromium-playwright.har")).startswith(
        "Imported 9 flows from "
    )
    assert bar.run("tape.copy.targets")["value"] == [
        "curl",
        "fetch",
        "python",
        "httpie",
        "markdown",
    ]
    assert bar.does("tape.copy.file", "curl", "~u web-one", str(tmp_path / "snippet.sh")) == (
        f"Wrote GET /web-one as curl to {tmp_path / 'snippet.sh'}"
    )
    assert "/web-one" in (tmp_path / "snippet.sh").read_text()
    clipboard = bar.run("tape.copy", "markdown", "~u web-one")
    assert "value" in clipboard or "no clipboard available" in clipboard["error"]
    assert len(bar.run("tape.keys")["value"]) >= 5
    assert bar.does("tape.compare", first, "web renamed").startswith("A  ")

    def counts() -> dict[str, int]:
        store = Store(proxy.db)
        try:
            return {s.name: s.flow_count for s in store.list_sessions()}
        finally:
            store.close()

    def both_imported() -> dict[str, int] | None:
        found = counts()
        imported = found.get("mitmproxy-savehar.har (imported)") == 10 and 10 in found.values()
        return found if imported else None

    found = wait_until(both_imported, WAIT_SECONDS, "both imports")
    assert found["mitmproxy-savehar.har (imported)"] == 10
    assert sorted(found.values()) == [1, 10, 10]  # web: 1; first: 1 + 9 imported; new: 10
    assert bar.does("tape.session.delete", "web renamed").startswith("Deleted session")
    assert "web renamed" not in counts()
