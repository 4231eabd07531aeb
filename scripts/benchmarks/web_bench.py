"""Benchmark: the web page on a session of 100,000 flows: time to the first rows in Chromium.

Builds the session (the export benchmark's realistic flows), serves it with the API's server,
signs in as a person would, opens the session's flows and waits for the table's first row.
Also times the API's flow pages at the start and at the end of the session (SQL paging).
Not a test: figures depend on the machine.
    python scripts/benchmarks/web_bench.py [--flows 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from export_bench import build
from playwright.sync_api import sync_playwright

from mitmtape.api.server import ApiServer
from mitmtape.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' chromium launcher
from tests.browser import launch_chromium

TOKEN = "bench-token"


def timed_page(base: str, session: str, offset: int) -> float:
    started = time.perf_counter()
    reply = httpx.get(
        f"{base}/api/v1/sessions/{session}/flows",
        params={"limit": 100, "offset": offset},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    reply.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "web.db"
        session = build(db, {"big": args.flows})["big"]
        store = Store(db)
        server = ApiServer(store, TOKEN)
        server.start()
        try:
            first = timed_page(server.url, session, 0)
            last = timed_page(server.url, session, max(0, args.flows - 100))
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(server.sign_in_url)
                page.wait_for_selector("#sessions tbody tr")
                started = time.perf_counter()
                page.goto(f"{server.url}/?session={session}")
                page.wait_for_selector("#flows tbody tr", timeout=60_000)
                first_rows = time.perf_counter() - started
                rows = page.locator("#flows tbody tr").count()
                browser.close()
        finally:
            server.stop()
            store.close()
    print(f"session of {args.flows:,} flows")
    print(f"page load to first rows: {first_rows:6.2f} s ({rows} rows shown)")
    print(f"API page at offset 0:    {first * 1000:6.0f} ms")
    print(f"API page at the end:     {last * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
