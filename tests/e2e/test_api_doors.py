"""The API from both doors: `mitmtape serve`, and mitmdump with `--set tape_api=true`."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from mitmtape.api.events import STREAM_OPENED
from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump, venv_tool, wait_for_port
from tests.ports import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_mitmdump_serves_the_api_and_announces_recorded_flows(tmp_path: Path, upstream: int):
    api_port = free_port()
    proxy = MitmDump(
        tmp_path, "--set", "tape_api=true", "--set", f"tape_api_port={api_port}",
        "--set", f"tape_api_token={TOKEN}",
    ).start()  # fmt: skip
    api = f"http://127.0.0.1:{api_port}/api/v1"
    events: list[dict] = []
    listening = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{api}/events", headers=AUTH, timeout=30) as stream:
            event = ""
            for line in stream.iter_lines():
                if line == STREAM_OPENED.strip():  # sent once the stream is subscribed
                    listening.set()
                elif line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "flow.created":
                    events.append(json.loads(line.removeprefix("data: ")))
                    return

    try:
        wait_for_port(api_port)
        assert httpx.get(f"{api}/sessions", timeout=10).status_code == 401
        sessions = httpx.get(f"{api}/sessions", headers=AUTH, timeout=10).json()["sessions"]
        assert len(sessions) == 1
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert listening.wait(10)
        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"http://127.0.0.1:{upstream}/announced")
        listener.join(20)
        assert events and events[0]["url"] == f"http://127.0.0.1:{upstream}/announced"
        assert events[0]["session_id"] == sessions[0]["id"]

        # Making a session active through the API (the web page) moves the recording there.
        created = httpx.post(f"{api}/sessions", json={"name": "from the page"}, headers=AUTH)
        new_id = created.json()["id"]
        switched = httpx.patch(f"{api}/sessions/{new_id}", json={"active": True}, headers=AUTH)
        assert switched.status_code == 200
        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"http://127.0.0.1:{upstream}/after-switch")
        flows_url = f"{api}/sessions/{new_id}/flows"
        flows = wait_until(
            lambda: httpx.get(flows_url, headers=AUTH, timeout=10).json()["flows"],
            10,
            "the flow recorded into the new session",
        )
        assert [f["path"] for f in flows] == ["/after-switch"]
    finally:
        proxy.kill()


def test_mitmtape_serve_prints_its_address_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    Store(db).close()
    server = subprocess.Popen(
        [venv_tool("mitmtape"), "--db", str(db), "serve", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("mitmtape API on http://127.0.0.1:") and TOKEN in line
        base = line.split()[3]
        sign_in = server.stdout.readline().strip()
        assert sign_in == f"mitmtape web page: {base.removesuffix('/api/v1')}/?token={TOKEN}"
        assert httpx.get(f"{base}/sessions", headers=AUTH, timeout=10).status_code == 200
        assert httpx.get(f"{base}/sessions", timeout=10).status_code == 401
        server.send_signal(signal.SIGINT)
        assert server.wait(20) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_serve_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    result = subprocess.run(
        [venv_tool("mitmtape"), "--db", str(tmp_path / "t.db"), "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("mitmtape: cannot serve on 0.0.0.0:")
    assert len(result.stderr.strip().splitlines()) == 1
