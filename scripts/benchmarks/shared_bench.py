"""Benchmark: three proxies recording into one PostgreSQL database at once.

Three `mitmdump -s addon/tape.py` processes (reverse mode, the capture benchmark's fast local
upstream) share one database on the server `scripts/bench` started; wrk drives all three at
the same time. Prints each proxy's requests per second and the flows per second the store took
in, counted once every writer has committed. Not a test: figures depend on the machine (here
the proxies, their writers and the server share its cores).
    python scripts/benchmarks/shared_bench.py [--seconds 20] [--connections 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import bench_database
from capture_bench import REPO, recorded, start_proxy, start_upstream, wrk

from mitmtape.store import open_store
from tests.ports import free_port

PROXIES = 3
# The store is settled when its flow count has not moved for this long.
SETTLE_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=10, help="per proxy")
    args = parser.parse_args()
    upstream = free_port()
    start_upstream(upstream)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = bench_database("postgresql", tmp)
        open_store(db).close()  # made once, before three proxies race to make it
        proxies = [
            start_proxy(
                upstream,
                tmp / f"proxy{n}",
                ["-s", str(REPO / "addon" / "tape.py"), "--set", f"tape_db={db}"],
            )
            for n in range(PROXIES)
        ]
        store = open_store(db)
        try:
            before = recorded(store)
            rates: list[tuple[float, int]] = [(0.0, 0)] * PROXIES

            def drive(index: int, port: int) -> None:
                rates[index] = wrk(port, args.seconds, args.connections)

            started = time.perf_counter()
            threads = [
                threading.Thread(target=drive, args=(index, port))
                for index, (_, port) in enumerate(proxies)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            last, quiet_since = recorded(store), time.perf_counter()
            while time.perf_counter() - quiet_since < SETTLE_S:
                time.sleep(0.25)
                now = recorded(store)
                if now != last:
                    last, quiet_since = now, time.perf_counter()
            stored = last - before
            elapsed = quiet_since - started
        finally:
            store.close()
            for process, _ in proxies:
                process.terminate()
                process.wait(timeout=30)
    sent = sum(count for _, count in rates)
    for index, (rate, count) in enumerate(rates):
        print(f"proxy {index + 1}: {rate:8.0f} req/s ({count:,} requests)")
    print(f"together: {sum(rate for rate, _ in rates):8.0f} req/s; wrk sent {sent:,}")
    print(f"stored: {stored:,} flows in {elapsed:.1f} s = {stored / elapsed:,.0f} flows/s")


if __name__ == "__main__":
    main()
