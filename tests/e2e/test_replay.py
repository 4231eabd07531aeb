"""Replay with real processes: a session recorded through a real mitmdump becomes a mock server
(`tape_server_replay`, `mitmtape mock`) and a regression run (`mitmtape replay`)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump, venv_tool, wait_for_port
from tests.e2e.servers import UpstreamHandler
from tests.ports import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 30.0
# How much slower the changed server answers `/slow`: far past compare's threshold.
SLOWER_BY_S = 0.5
PATHS = ("/a", "/slow", "/flaky", "/gzip")


class ChangingHandler(UpstreamHandler):
    """The upstream's routes; once `changed`, `/flaky` fails and `/slow` is slow."""

    changed = False
    # Headers and body in one write: no Nagle-delayed second segment (40 ms on some answers)
    # that would make the replay look faster than the recording.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.changed and self.path == "/flaky":
            self._send(500, b"broken")
        elif self.path == "/slow":
            if self.changed:
                time.sleep(SLOWER_BY_S)  # the server under test is slower, not the test
            self._send(200, b"slow enough")
        else:
            super().do_GET()


@contextmanager
def upstream_on(port: int) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", port), ChangingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def wait_for_replay(proxy: str, port: int) -> None:
    """Until the session is loaded: then an unknown request gets server replay's 404 (before,
    it would go on to the upstream, which is gone)."""

    def answers_404() -> bool:
        with httpx.Client(proxy=proxy, timeout=10) as client:
            return client.get(f"http://127.0.0.1:{port}/probe").status_code == 404

    wait_until(answers_404, WAIT_SECONDS, "server replay answering")


Answer = tuple[int, list[tuple[str, str]], bytes]
# Server replay refreshes these (`server_replay_refresh`, on by default), as mitmproxy does.
REFRESHED = {"date"}


def fetch(client: httpx.Client, method: str, url: str, content: bytes | None = None) -> Answer:
    """Status, headers and the body exactly as it came over the wire (not decoded)."""
    with client.stream(method, url, content=content) as response:
        raw = b"".join(response.iter_raw())
        headers = [(k, v) for k, v in response.headers.multi_items() if k not in REFRESHED]
        return response.status_code, headers, raw


def record(folder: Path, port: int) -> tuple[Path, dict[str, Answer]]:
    """A session `recorded` of every path (and a POST) through a real mitmdump."""
    db = folder / "tape.db"
    proxy = MitmDump(folder, "--set", "tape_session=recorded", db=db).start()
    try:
        answers = ask_everything(proxy.proxy, port)
    finally:
        assert proxy.stop() == 0
    return db, answers


def ask_everything(proxy: str, port: int) -> dict[str, Answer]:
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(proxy=proxy, timeout=10) as client:
        answers = {path: fetch(client, "GET", f"{base}{path}") for path in PATHS}
        answers["post"] = fetch(client, "POST", f"{base}/echo", b"ping")
    return answers


def assert_same_answers(proxy: str, port: int, answers: dict[str, Answer]) -> None:
    """Byte for byte what was recorded, and the `server_replay_extra` answer for the rest."""
    assert ask_everything(proxy, port) == answers
    assert answers["/gzip"][1].count(("content-encoding", "gzip")) == 1
    with httpx.Client(proxy=proxy, timeout=10) as client:
        assert client.get(f"http://127.0.0.1:{port}/never-recorded").status_code == 404


def test_a_recorded_session_answers_as_a_server_replay(tmp_path: Path) -> None:
    port = free_port()
    with upstream_on(port):
        db, answers = record(tmp_path, port)
    proxy = MitmDump(
        tmp_path,
        "--set", "tape_server_replay=recorded",
        "--set", "server_replay_extra=404",
        "--set", "server_replay_reuse=true",
        db=db,
    ).start()  # fmt: skip
    try:
        wait_for_replay(proxy.proxy, port)
        assert_same_answers(proxy.proxy, port, answers)
    finally:
        assert proxy.stop() == 0
    store = Store(db)
    try:
        # Served answers were not recorded again; the probe and the unknown request neither.
        assert store.get_session("recorded").flow_count == len(PATHS) + 1
        assert sum(session.flow_count for session in store.list_sessions()) == len(PATHS) + 1
    finally:
        store.close()


def test_mitmtape_mock_serves_a_session_and_404s_the_rest(tmp_path: Path) -> None:
    port = free_port()
    with upstream_on(port):
        db, answers = record(tmp_path, port)
    listen = free_port()
    log = tmp_path / "mock.log"
    args = [venv_tool("mitmtape"), "--db", str(db), "mock", "recorded", "-p", str(listen)]
    args += ["--set", f"confdir={tmp_path / 'confdir'}"]
    with log.open("wb") as out:
        mock = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(listen, WAIT_SECONDS, mock)
        wait_for_replay(f"http://127.0.0.1:{listen}", port)
        assert_same_answers(f"http://127.0.0.1:{listen}", port, answers)
    finally:
        mock.terminate()
        mock.wait(WAIT_SECONDS)


def test_mitmtape_mock_refuses_an_unknown_session_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "tape.db"
    Store(db).close()
    done = subprocess.run(
        [venv_tool("mitmtape"), "--db", str(db), "mock", "nope"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == "mitmtape: no session with id or name 'nope'\n"


def test_a_replay_against_the_changed_server_names_exactly_what_changed(tmp_path: Path) -> None:
    port = free_port()
    with upstream_on(port):
        db, _ = record(tmp_path, port)
        ChangingHandler.changed = True
        try:
            done = subprocess.run(
                [venv_tool("mitmtape"), "--db", str(db), "replay", "recorded", "--json"],
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            ChangingHandler.changed = False
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["replayed"] == len(PATHS) + 1
    changed = {row["request"].rsplit("/", 1)[-1]: row for row in result["comparison"]["replayed"]}
    assert set(changed) == {"flaky", "slow"}, changed
    assert changed["flaky"]["status"] == {"a": 200, "b": 500}
    assert set(changed["slow"]) == {"request", "flow", "slower"}
    store = Store(db)
    try:
        replay = store.get_session(result["session"])
        original = store.get_session("recorded")
        records = [r for batch in store.iter_flow_batches(replay.id) for r in batch]
        originals = {r.id for batch in store.iter_flow_batches(original.id) for r in batch}
    finally:
        store.close()
    assert replay.name.startswith("recorded (replay ")
    assert len(records) == len(PATHS) + 1
    assert {r.source for r in records} == {"replay"}
    assert {r.metadata["replay_of"] for r in records} == originals
