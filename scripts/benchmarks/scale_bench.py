"""Benchmark: what grows with the store. Builds one store up to 10K, 100K and 1M flows (in one
session, through the store's own batch write, realistic sizes) and, at each size, times the
sessions list and detail, flow pages (first, newest, reached by cursor, and the old offset way
to the last page), the filters' first pages, and the web page's first rows in Chromium; prints
one table, so the growth from 10K to 1M reads off it, with the database's size.

Every API figure is the median of ROUNDS requests through the real HTTP API. Not a test:
figures depend on the machine.
    python scripts/benchmarks/scale_bench.py [--sizes 10000,100000,1000000] [--engine sqlite]
        [--no-web]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from mitmtape.api.server import ApiServer
from mitmtape.model import Body, FlowRecord, Request, Response
from mitmtape.store import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' chromium launcher
from bench_db import ENGINES, bench_database

TOKEN = "bench-token"
ROUNDS = 7
WRITE_BATCH = 5_000
HOSTS = [f"svc{n}.example.com" for n in range(20)]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HEADERS = [
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537"),
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br"),
    ("cookie", "session=abc123; theme=dark"),
]


def flows(session_id: str, first: int, count: int, chance: random.Random) -> Iterator[FlowRecord]:
    """Browser-like flows: 80% GET, 20 hosts, mostly 200 with some 4xx/5xx, 0.5–3 KB bodies."""
    for index in range(first, first + count):
        host = HOSTS[index % len(HOSTS)]
        method = "POST" if chance.random() < 0.2 else "GET"
        body = json.dumps({"items": list(range(chance.randrange(100, 700)))}).encode()
        yield FlowRecord(
            session_id=session_id,
            started_at=START + timedelta(milliseconds=index * 3),
            duration_ms=chance.uniform(5, 400),
            request=Request(
                method=method,
                url=f"https://{host}/v1/{'cart' if index % 7 == 0 else 'items'}/{index}?page=2",
                headers=[("host", host), *HEADERS],
                body=Body(b'{"q": "search"}' if method == "POST" else b""),
            ),
            response=Response(
                status=chance.choice((200,) * 12 + (201, 304, 404, 500)),
                reason="OK",
                headers=[("content-type", "application/json"), ("server", "nginx")],
                body=Body(body),
            ),
        )


def grow(store: Store, session_id: str, have: int, want: int) -> float:
    """Add flows up to `want`; the seconds it took."""
    chance = random.Random(have)
    started = time.perf_counter()
    for first in range(have, want, WRITE_BATCH):
        store.add_flows(flows(session_id, first, min(WRITE_BATCH, want - first), chance))
    return time.perf_counter() - started


class Api:
    def __init__(self, base: str) -> None:
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )

    def get(self, path: str, **params: object) -> dict:
        reply = self.client.get(path, params=params)
        reply.raise_for_status()
        return reply.json()

    def timed(self, path: str, **params: object) -> float:
        """Median milliseconds of ROUNDS requests."""
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            self.get(path, **params)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)


def measure(api: Api, session: str, size: int) -> dict[str, float]:
    flows_path = f"/api/v1/sessions/{session}/flows"
    figures = {
        "sessions list": api.timed("/api/v1/sessions"),
        "session detail": api.timed(f"/api/v1/sessions/{session}"),
        "first page": api.timed(flows_path, limit=100),
        "newest page (order=desc)": api.timed(flows_path, limit=100, order="desc"),
    }
    cursor = None
    for _ in range(10):  # the 11th page, reached by cursor
        cursor = api.get(flows_path, limit=100, **({"cursor": cursor} if cursor else {}))["next"]
    figures["page by cursor (11th)"] = api.timed(flows_path, limit=100, cursor=cursor)
    figures["last page by offset (old way)"] = api.timed(flows_path, limit=100, offset=size - 100)
    filters: dict[str, dict[str, object]] = {
        "filter method=POST": {"method": "POST"},
        "filter status 400-599": {"status_min": 400, "status_max": 599},
        "filter host": {"host": HOSTS[3]},
        "filter url substring": {"url": "/cart/"},
        "filter expression ~m POST": {"filter": "~m POST"},
    }
    for name, params in filters.items():
        figures[name] = api.timed(flows_path, limit=100, **params)
    return figures


# Notes, in the page itself, when the flows table first has a row: milliseconds since the
# navigation started (performance.now()), free of the driver's round trips.
FIRST_ROW_WATCH = """
new MutationObserver((changes, watch) => {
  if (document.querySelector("#flows tbody tr")) {
    window.firstRowAt = performance.now();
    watch.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def first_rows(server: ApiServer, session: str) -> float:
    """Milliseconds from navigation to the flows table's first row, median of 5 loads."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    times = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(FIRST_ROW_WATCH)
        page.goto(server.sign_in_url)
        page.wait_for_selector("#sessions tbody tr")
        for _ in range(5):
            page.goto("about:blank")
            page.goto(f"{server.url}/?session={session}", wait_until="commit")
            page.wait_for_selector("#flows tbody tr", timeout=60_000)
            times.append(page.evaluate("() => window.firstRowAt"))
        browser.close()
    return statistics.median(times)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def database_bytes(store: Store) -> int:
    with store._lock:
        return store.engine.size(store._db)


def table(columns: list[int], rows: dict[str, list[float]], unit: Callable[[str], str]) -> None:
    print(f"{'':32}" + "".join(f"{size:>12,}" for size in columns))
    for name, values in rows.items():
        print(f"{name:32}" + "".join(f"{unit(name).format(v):>12}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--engine", choices=ENGINES, default="sqlite")
    parser.add_argument("--no-web", action="store_true", help="skip the Chromium figure")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        location = bench_database(args.engine, Path(folder))
        store = open_store(location)
        session = store.create_session("scale").id
        server = ApiServer(store, TOKEN)
        server.start()
        api = Api(server.url)
        have = 0
        try:
            for size in sizes:
                seconds = grow(store, session, have, size)
                rows.setdefault("build (flows/s)", []).append((size - have) / seconds)
                if args.engine == "postgresql":
                    # What autovacuum does after a bulk load (statistics, visibility map), done
                    # now so it does not run beside the figures.
                    rows.setdefault("settle: VACUUM ANALYZE (s)", []).append(timed(store.vacuum))
                have = size
                for name, value in measure(api, session, size).items():
                    rows.setdefault(name + " (ms)", []).append(value)
                if not args.no_web:
                    rows.setdefault("web first rows (ms)", []).append(first_rows(server, session))
                total = database_bytes(store)
                rows.setdefault("database (MB)", []).append(total / 1e6)
                rows.setdefault("bytes per flow", []).append(total / size)
                print(f"... {size:,} flows measured", file=sys.stderr, flush=True)
        finally:
            server.stop()
            store.close()
    print(f"engine: {args.engine}; API figures: median of {ROUNDS} requests, 100 flows a page")
    table(sizes, rows, lambda name: "{:.1f}" if name.endswith(("(ms)", "(s)")) else "{:,.0f}")


if __name__ == "__main__":
    main()
