"""Every tape.* command works from mitmweb's command bar (its /commands/<name> endpoint)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mitmtape.store import Store
from tests.conftest import free_port
from tests.e2e.mitmdump import MitmDump

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"
PASSWORD = "mitmtape-test"
XSRF = "0123456789abcdef"


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


@pytest.fixture
def mitmweb(tmp_path: Path) -> Iterator[tuple[MitmDump, CommandBar]]:
    web_port = free_port()
    proxy = MitmDump(
        tmp_path, "--set", f"web_port={web_port}", "--set", "web_host=127.0.0.1",
        "--set", "web_open_browser=false", "--set", f"web_password={PASSWORD}", tool="mitmweb",
    )  # fmt: skip
    proxy.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                bar = CommandBar(web_port)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield proxy, bar
        bar.client.close()
    finally:
        proxy.kill()


def wait_for(path: Path, timeout: float = 30) -> Path:
    """Exports and imports run on a worker thread in a running mitmproxy: wait for their file."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), f"{path} was not written"
    return path


def test_every_tape_command_runs_from_mitmweb(mitmweb, upstream: int, tmp_path: Path) -> None:
    proxy, bar = mitmweb
    with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
        client.get(f"http://127.0.0.1:{upstream}/web-one")
    assert "Recording into new session 'web'" in bar.run("tape.session.new", "web")["value"]
    with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
        client.get(f"http://127.0.0.1:{upstream}/web-two")
    listing = bar.run("tape.session.list")["value"]
    assert "web" in listing
    assert "web" in bar.run("tape.session.rename", "web", "web renamed")["value"]
    [first] = re.findall(r"\b([0-9A-Z]{26})\b.*flows  \d{4}-", listing)
    assert "Recording into" in bar.run("tape.session.switch", first)["value"]

    assert bar.run("tape.export.formats")["value"] == ["har", "json", "csv", "postman", "html"]
    assert "started" in bar.run("tape.export", "har", str(tmp_path / "active.har"))["value"]
    bar.run("tape.export.session", "web renamed", "csv", str(tmp_path / "web.csv"))
    bar.run("tape.export.flows", "json", "@all", str(tmp_path / "view.json"))
    har = json.loads(wait_for(tmp_path / "active.har").read_text())
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [
        f"http://127.0.0.1:{upstream}/web-one"
    ]
    assert "/web-two" in wait_for(tmp_path / "web.csv").read_text()
    time.sleep(0.5)
    assert len(json.loads(wait_for(tmp_path / "view.json").read_text())) == 2

    bar.run("tape.import.new", str(SAMPLES / "mitmproxy-savehar.har"))
    bar.run("tape.import", str(SAMPLES / "chromium-playwright.har"))
    assert bar.run("tape.copy.targets")["value"] == [
        "curl",
        "fetch",
        "python",
        "httpie",
        "markdown",
    ]
    bar.run("tape.copy.file", "curl", "~u web-one", str(tmp_path / "snippet.sh"))
    assert "/web-one" in wait_for(tmp_path / "snippet.sh").read_text()
    clipboard = bar.run("tape.copy", "markdown", "~u web-one")
    assert "value" in clipboard or "no clipboard available" in clipboard["error"]
    assert len(bar.run("tape.keys")["value"]) >= 5
    assert bar.run("tape.compare", first, "web renamed")["value"].startswith("A  ")

    def counts() -> dict[str, int]:
        store = Store(proxy.db)
        try:
            return {s.name: s.flow_count for s in store.list_sessions()}
        finally:
            store.close()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = counts()
        if found.get("mitmproxy-savehar.har (imported)") == 10 and 10 in found.values():
            break
        time.sleep(0.2)
    assert found["mitmproxy-savehar.har (imported)"] == 10
    assert sorted(found.values()) == [1, 10, 10]  # web: 1; first: 1 + 9 imported; new: 10
    assert bar.run("tape.session.delete", "web renamed")["value"].startswith("Deleted session")
    assert "web renamed" not in counts()
