"""A full disk under a real mitmdump: flows wait in the writer, all kept once space is back."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.mitmdump import MitmDump
from tests.e2e.tmpfs import grow, small_tmpfs
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

REQUESTS = 40
BODY = b"b" * 100_000  # echoed: 200 kB a flow, 8 MB in all, on a 3 MB disk
FAILING = "mitmtape: cannot write to"
RECOVERED = "mitmtape: writing to"
# The writer notices the full disk, and catches up once it grows, within this time.
WAIT_SECONDS = 30


def stored_urls(db: Path) -> list[str]:
    with sqlite3.connect(db, timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM flows ORDER BY rowid")]


def wait_for_log(proxy: MitmDump, text: str) -> None:
    wait_until(lambda: text in proxy.log.read_text(), WAIT_SECONDS, f"logging {text!r}")


def test_flows_sent_while_the_disk_is_full_are_all_stored_in_order_once_it_grows(
    tmp_path: Path, upstream: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # the log file shows each line as it is made
    base = f"http://127.0.0.1:{upstream}"
    with small_tmpfs(tmp_path / "disk") as disk:
        proxy = MitmDump(tmp_path, db=disk / "tape.db")
        # ALERT lies between INFO and WARNING: the helper's `warn` log would hide it.
        proxy.args[proxy.args.index("termlog_verbosity=warn")] = "termlog_verbosity=info"
        try:
            proxy.start()
            with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
                started = time.monotonic()
                statuses = [
                    client.post(f"{base}/n/{n}", content=BODY).status_code for n in range(REQUESTS)
                ]
                elapsed = time.monotonic() - started
            assert statuses == [201] * REQUESTS
            assert elapsed < 20, "the proxy waited on the full disk"
            wait_for_log(proxy, FAILING)
            assert len(stored_urls(proxy.db)) < REQUESTS
            grow(disk)
            wait_until(
                lambda: len(stored_urls(proxy.db)) >= REQUESTS, WAIT_SECONDS, "storing every flow"
            )
            assert stored_urls(proxy.db) == [f"{base}/n/{n}" for n in range(REQUESTS)]
            wait_for_log(proxy, RECOVERED)
            assert proxy.stop() == 0
        finally:
            proxy.kill()
    log = proxy.log.read_text()
    [failing] = [line for line in log.splitlines() if FAILING in line]
    [recovered] = [line for line in log.splitlines() if RECOVERED in line]
    assert "database or disk is full" in failing
    assert recovered.endswith("flows that waited") and "dropped" not in log
