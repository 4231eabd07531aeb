"""Real proxies on one PostgreSQL database: three at once while someone exports, a server that
goes away for 5 s and comes back, and the `mitmtape` command's answers to bad URLs."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from mitmtape.store.postgres import CONNECT_TIMEOUT_S
from tests.e2e.mitmdump import MitmDump, venv_tool
from tests.ports import free_port
from tests.postgres import PASSWORD_URL_ENV, fresh_database, private_server, server_url
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

PROXIES = 3
REQUESTS = 2_000
CLIENTS_PER_PROXY = 4
OUTAGE_S = 5
# Flows sent while the server is away, and after it is back.
OUTAGE_REQUESTS = 300


class ProxyDatabase(str):
    """A proxy's `tape_db` URL; `exists()` (what MitmDump.start waits on) is true once that
    proxy holds a connection, told apart by its libpq application_name."""

    name: str

    def __new__(cls, url: str, name: str) -> ProxyDatabase:
        made = super().__new__(cls, f"{url}&application_name={name}")
        made.name = name
        return made

    def exists(self) -> bool:
        with psycopg.connect(str(self), autocommit=True) as db:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            return db.execute(query, (self.name,)).fetchone()[0] > 1  # itself and the proxy's


def start_proxy(folder: Path, url: str, name: str, alerts: bool = False) -> MitmDump:
    """A proxy recording into `url`; with `alerts`, its log keeps what a person is told (the
    status bar's ALERT lines) and no flow lines."""
    (folder / name).mkdir()
    proxy = MitmDump(folder / name, db=ProxyDatabase(url, name))  # type: ignore[arg-type]
    if alerts:
        verbosity = proxy.args.index("termlog_verbosity=warn")
        proxy.args[verbosity] = "termlog_verbosity=alert"
        proxy.args += ["--set", "flow_detail=0"]
    return proxy.start()


def send(proxy: str, base: str, numbers: range) -> int:
    with httpx.Client(proxy=proxy, timeout=30) as client:
        return sum(client.get(f"{base}/load?n={n}").status_code == 200 for n in numbers)


def load(proxy: str, base: str, count: int, clients: int) -> int:
    with ThreadPoolExecutor(clients) as pool:
        parts = [range(i, count, clients) for i in range(clients)]
        return sum(pool.map(send, [proxy] * clients, [base] * clients, parts))


def stored_urls(url: str) -> list[str]:
    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT url FROM flows")]


def mitmtape(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("mitmtape"), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as fresh:
        yield fresh


def export_har(url: str, session: str, target: Path) -> list[dict]:
    done = mitmtape("--db", url, "export", session, "--format", "har", "-o", str(target))
    assert done.returncode == 0, done.stderr
    return json.loads(target.read_text())["log"]["entries"]


def test_three_proxies_record_into_one_database_while_it_is_exported(
    url: str, upstream: int, tmp_path: Path
) -> None:
    proxies = [start_proxy(tmp_path, url, f"proxy{n}") for n in range(PROXIES)]
    bases = [f"http://127.0.0.1:{upstream}/p{n}" for n in range(PROXIES)]
    with psycopg.connect(url) as db:
        (session,) = db.execute("SELECT id FROM sessions WHERE active = 1").fetchone()
    loaded = threading.Event()
    exports: list[int] = []

    def export_while_loading() -> None:
        while not loaded.is_set():
            exports.append(len(export_har(url, session, tmp_path / f"during{len(exports)}.har")))

    exporter = threading.Thread(target=export_while_loading)
    exporter.start()
    with ThreadPoolExecutor(PROXIES) as pool:
        sent = list(pool.map(load, [p.proxy for p in proxies], bases, [REQUESTS] * PROXIES,
                             [CLIENTS_PER_PROXY] * PROXIES))  # fmt: skip
    loaded.set()
    exporter.join(120)
    assert sent == [REQUESTS] * PROXIES
    assert [proxy.stop() for proxy in proxies] == [0] * PROXIES
    urls = stored_urls(url)
    expected = [f"{base}/load?n={n}" for base in bases for n in range(REQUESTS)]
    assert len(urls) == PROXIES * REQUESTS and sorted(urls) == sorted(expected)
    assert exports and exports == sorted(exports)  # each export a valid file, none going back
    entries = export_har(url, session, tmp_path / "after.har")
    assert sorted(entry["request"]["url"] for entry in entries) == sorted(expected)


def test_a_server_away_for_5_seconds_loses_no_flow(upstream: int, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{upstream}"
    with private_server() as server:
        proxy = start_proxy(tmp_path, f"{server.url}?connect_timeout=2", "outage", alerts=True)
        try:
            assert load(proxy.proxy, f"{base}/before", OUTAGE_REQUESTS, 2) == OUTAGE_REQUESTS
            wait_until(lambda: len(stored_urls(server.url)) == OUTAGE_REQUESTS, 30, "committing")
            server.stop()
            away = time.monotonic()
            # The proxy keeps proxying while its flows wait in the writer's buffer.
            assert load(proxy.proxy, f"{base}/during", OUTAGE_REQUESTS, 2) == OUTAGE_REQUESTS
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - away)))  # the outage itself
            server.start()
            wait_until(
                lambda: len(stored_urls(server.url)) == 2 * OUTAGE_REQUESTS, 60, "catching up"
            )
            assert proxy.stop() == 0
        finally:
            proxy.kill()
        urls = stored_urls(server.url)
    assert len(urls) == len(set(urls)) == 2 * OUTAGE_REQUESTS
    log = proxy.log.read_text()
    assert log.count("and retrying") == 1, log  # a person is told once
    assert "again: committed" in log and "tape-test-password" not in log


def refused_in_one_line(db: str) -> str:
    started = time.monotonic()
    done = mitmtape("--db", db, "sessions", timeout=CONNECT_TIMEOUT_S + 20)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 10
    return done.stderr


def test_bad_database_urls_are_one_clear_line_each() -> None:
    wrong = server_url(PASSWORD_URL_ENV).replace("tape-test-password", "wrong-password")
    message = refused_in_one_line(wrong)
    assert "password authentication failed" in message and "wrong-password" not in message
    missing = server_url().rsplit("/", 1)[0] + "/no_such_database"
    assert 'database "no_such_database" does not exist' in refused_in_one_line(missing)
    assert "unknown database scheme 'mysql'" in refused_in_one_line("mysql://ann:pw@127.0.0.1/x")
    absent = f"postgresql://nobody@127.0.0.1:{free_port()}/tape"
    assert "cannot connect to" in refused_in_one_line(absent)
