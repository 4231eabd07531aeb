"""Under load: every flow recorded once; a SIGKILL loses nothing that was committed."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

CLIENTS = 8
REQUESTS = 2_000
# The kill comes once this many flows are committed, within this time of the load starting.
COMMITTED_FIRST = 300
LOAD_START_SECONDS = 20


def send_many(proxy: str, base: str, numbers: range) -> list[int]:
    with httpx.Client(proxy=proxy, timeout=30) as client:
        return [client.get(f"{base}/load?n={n}").status_code for n in numbers]


def recorded_urls(db: Path) -> list[str]:
    """Every URL committed so far, read by a separate connection as another process would."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM flows")]


def committed_at_least(db: Path, count: int) -> list[str] | None:
    urls = recorded_urls(db)
    return urls if len(urls) >= count else None


def test_concurrent_clients_are_all_recorded_once(mitmdump: MitmDump, upstream: int) -> None:
    base = f"http://127.0.0.1:{upstream}"
    with ThreadPoolExecutor(CLIENTS) as pool:
        parts = [range(i, REQUESTS, CLIENTS) for i in range(CLIENTS)]
        statuses = [
            s
            for part in pool.map(send_many, [mitmdump.proxy] * CLIENTS, [base] * CLIENTS, parts)
            for s in part
        ]
    assert statuses.count(200) == REQUESTS
    assert mitmdump.stop() == 0
    urls = recorded_urls(mitmdump.db)
    assert len(urls) == REQUESTS
    assert sorted(urls) == sorted(f"{base}/load?n={n}" for n in range(REQUESTS))


def test_sigkill_under_load_keeps_every_committed_flow(mitmdump: MitmDump, upstream: int) -> None:
    base = f"http://127.0.0.1:{upstream}"
    stop = threading.Event()

    def hammer(start: int) -> None:
        n = start
        with httpx.Client(proxy=mitmdump.proxy, timeout=5) as client:
            while not stop.is_set():
                try:
                    client.get(f"{base}/load?n={n}")
                except httpx.HTTPError:
                    return  # the proxy is gone
                n += CLIENTS

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        committed = wait_until(
            lambda: committed_at_least(mitmdump.db, COMMITTED_FIRST),
            LOAD_START_SECONDS,
            f"committing {COMMITTED_FIRST} flows under load",
        )
    finally:
        mitmdump.kill()  # SIGKILL, mid-load: no `done`, no flush
        stop.set()
        for thread in threads:
            thread.join(10)

    with sqlite3.connect(mitmdump.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(mitmdump.db)
    session = store.active_session().id
    after = [r.request.url for b in store.iter_flow_batches(session, with_bodies=False) for r in b]
    store.close()
    assert set(committed) <= set(after)
    assert len(after) == len(set(after))
