"""Bodies mitmtape does not keep, and large ones it does, through a real mitmdump.

A streamed body (`stream_large_bodies`) and one over `tape_max_body_size` are recorded with
their size and `omitted`, and survive a JSON export and import; a 200 MB body costs the writer
process less than 1.5 times its size.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import httpx
import pytest

from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump, venv_tool
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

MB = 1 << 20
LARGE_BODY = 200_000_000
# The writer child's peak memory before any body: Python, mitmproxy's http classes, SQLite
# (measured: 46 MiB on Python 3.11, 50 MiB on 3.13), with room to spare. Before the
# chunked transfer and blob I/O, a 200 MB body took the writer to 618 MB.
WRITER_BASELINE_BYTES = 80 * MB
PATTERN = bytes(range(256)) * 4096  # 1 MiB


class BigHandler(BaseHTTPRequestHandler):
    """GET /N answers N bytes of a repeating pattern, written a MiB at a time."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        size = int(self.path.strip("/"))
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(size))
        self.end_headers()
        for start in range(0, size, len(PATTERN)):
            self.wfile.write(PATTERN[: min(len(PATTERN), size - start)])


def pattern_digest(size: int) -> str:
    digest = hashlib.sha256()
    for start in range(0, size, len(PATTERN)):
        digest.update(PATTERN[: min(len(PATTERN), size - start)])
    return digest.hexdigest()


@pytest.fixture
def big_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BigHandler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fetch(proxy: MitmDump, url: str) -> int:
    """GET through the proxy, reading the body as it comes; how many bytes arrived."""
    received = 0
    with httpx.Client(proxy=proxy.proxy, timeout=120) as client, client.stream("GET", url) as r:
        for chunk in r.iter_bytes():
            received += len(chunk)
    return received


def stored_count(db: Path) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute("SELECT COUNT(*) FROM flows").fetchone()[0]


def wait_for_flows(db: Path, count: int, timeout: float = 60.0) -> None:
    wait_until(lambda: stored_count(db) >= count, timeout, f"{count} flows stored")
    assert stored_count(db) == count


def test_streamed_bodies_are_recorded_omitted_and_survive_json_export_and_import(
    tmp_path: Path, big_server: str, upstream: int
) -> None:
    proxy = MitmDump(tmp_path, "--set", "stream_large_bodies=1m").start()
    try:
        assert fetch(proxy, f"{big_server}/{5 * MB}") == 5 * MB
        assert fetch(proxy, f"{big_server}/{MB}") == MB  # at the limit: buffered and kept
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    store = Store(proxy.db)
    session = store.active_session()
    [[streamed, kept]] = store.iter_flow_batches(session.id)
    assert streamed.response is not None and kept.response is not None
    body = streamed.response.body
    assert (body.data, body.size, body.omitted) == (b"", 5 * MB, "streamed")
    assert (len(kept.response.body.data), kept.response.body.omitted) == (MB, None)
    store.close()

    exported = tmp_path / "out.json"
    run = [venv_tool("mitmtape"), "--db", str(proxy.db)]
    subprocess.run(
        [*run, "export", session.id, "--format", "json", "-o", str(exported)], check=True
    )
    document = json.loads(exported.read_text())
    assert document[0]["response"]["body"] == {
        "encoding": "utf-8", "data": "", "size": 5 * MB, "omitted": "streamed"
    }  # fmt: skip
    subprocess.run([*run, "import", str(exported)], check=True, capture_output=True)
    store = Store(proxy.db)
    imported = next(s for s in store.list_sessions() if s.id != session.id)
    [[again, _]] = store.iter_flow_batches(imported.id)
    assert again.response is not None
    assert (again.response.body.size, again.response.body.omitted) == (5 * MB, "streamed")
    store.close()


def test_bodies_over_tape_max_body_size_keep_only_their_size(
    tmp_path: Path, big_server: str
) -> None:
    proxy = MitmDump(tmp_path, "--set", "tape_max_body_size=1m").start()
    try:
        assert fetch(proxy, f"{big_server}/{MB}") == MB
        assert fetch(proxy, f"{big_server}/{MB + 1}") == MB + 1  # the client still gets it all
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    store = Store(proxy.db)
    [[at_limit, over]] = store.iter_flow_batches(store.active_session().id)
    assert at_limit.response is not None and over.response is not None
    assert (len(at_limit.response.body.data), at_limit.response.body.omitted) == (MB, None)
    assert (over.response.body.data, over.response.body.size) == (b"", MB + 1)
    assert over.response.body.omitted == "too-large"
    store.close()


def test_a_bad_tape_max_body_size_is_refused_in_one_sentence(tmp_path: Path) -> None:
    proxy = MitmDump(tmp_path, "--set", "tape_max_body_size=lots")
    ended = subprocess.run(proxy.args, capture_output=True, text=True, timeout=60)
    output = ended.stdout + ended.stderr
    assert ended.returncode != 0
    assert "tape_max_body_size: 'lots' is not a size (examples: 500k, 10m, 1g)" in output
    assert "Traceback" not in output


def writer_pid(proxy: MitmDump, timeout: float = 30.0) -> int:
    """The mitmtape writer child of a running mitmdump (started just after its database)."""
    found = wait_until(lambda: _writer_children(proxy), timeout, "mitmtape's writer child")
    return found[0]


def _writer_children(proxy: MitmDump) -> list[int]:
    assert proxy.process is not None
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            cmdline = (status.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        parent = fields.get("PPid", "").strip()
        if parent == str(proxy.process.pid) and b"mitmtape.capture.writer" in cmdline:
            found.append(int(status.parent.name))
    return found


def peak_memory(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def test_a_200_mb_body_costs_the_writer_less_than_one_and_a_half_times_its_size(
    tmp_path: Path, big_server: str
) -> None:
    proxy = MitmDump(tmp_path).start()
    try:
        pid = writer_pid(proxy)
        assert fetch(proxy, f"{big_server}/{LARGE_BODY}") == LARGE_BODY
        wait_for_flows(proxy.db, 1)
        peak = peak_memory(pid)
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    assert peak < 1.5 * LARGE_BODY + WRITER_BASELINE_BYTES, f"writer peak {peak / MB:.0f} MiB"
    with sqlite3.connect(proxy.db) as conn:
        [(size, blob)] = conn.execute(
            "SELECT length(data), data FROM bodies WHERE part = 'response'"
        ).fetchall()
    assert size == LARGE_BODY
    assert hashlib.sha256(blob).hexdigest() == pattern_digest(LARGE_BODY)
