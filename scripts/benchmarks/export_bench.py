"""Benchmark: every export format on 10,000 and 100,000 recorded flows, beside mitmproxy's savehar.

Builds a database of realistic flows (browser-like headers, 1–4 KB JSON bodies, some binary
images), then runs each export in its own subprocess so each figure's peak memory is that
run's alone. mitmproxy's `savehar` gets the same flows as mitmproxy objects (rebuilt from the
records before its clock starts), so its time is its HAR making and writing only.
Not a test: figures depend on the machine.
    python scripts/benchmarks/export_bench.py [--large 100000] [--small 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mitmtape.model import Body, FlowRecord, Request, Response, Timings
from mitmtape.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import ENGINES, bench_database

PNG_HEADER = b"\x89PNG\r\n\x1a\n"
REQUEST_HEADERS = [
    ("host", "api.example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537"),
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br"),
    ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"),
    ("cookie", "session=abc123; theme=dark; _ga=GA1.2.1234567890.1700000000"),
    ("sec-fetch-site", "same-origin"),
]

EXPORT_RUN = """
import json, resource, sys, time
from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.store import Store, open_store
body_reads = 0
original = Store._read_bodies
def counted(self, ids):
    global body_reads
    body_reads += len(ids)
    return original(self, ids)
Store._read_bodies = counted
store = open_store(sys.argv[1])
started = time.perf_counter()
options = ExportOptions(keep_artifact=False)
result = export_session(store, sys.argv[2], sys.argv[3], sys.argv[4], options)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mb": peak, "flows": result.flows,
                  "size": result.size, "body_reads": body_reads}))
"""

SAVEHAR_RUN = """
import json, resource, sys, time
from mitmproxy.addons.savehar import SaveHar
from mitmtape.capture.record import record_to_flow
from mitmtape.store import open_store
store = open_store(sys.argv[1])
flows = [record_to_flow(r) for b in store.iter_flow_batches(sys.argv[2]) for r in b]
started = time.perf_counter()
SaveHar().export_har(flows, sys.argv[4])
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import os
print(json.dumps({"seconds": elapsed, "peak_mb": peak, "flows": len(flows),
                  "size": os.path.getsize(sys.argv[4]), "body_reads": -1}))
"""


def record(chance: random.Random, start: datetime, index: int, session_id: str) -> FlowRecord:
    binary = chance.random() < 0.1
    if binary:
        body = PNG_HEADER + chance.randbytes(chance.randrange(1024, 4096))
        content_type = "image/png"
    else:
        items = [{"id": chance.randrange(10**6), "name": f"item {n}", "price": n * 1.5}
                 for n in range(chance.randrange(12, 50))]  # fmt: skip
        body = json.dumps({"items": items, "page": index % 50}).encode()
        content_type = "application/json; charset=utf-8"
    method = "POST" if chance.random() < 0.2 else "GET"
    request_body = json.dumps({"query": "x" * chance.randrange(50, 400)}).encode()
    return FlowRecord(
        session_id=session_id,
        started_at=start + timedelta(milliseconds=index * 7),
        duration_ms=chance.uniform(5, 900),
        request=Request(
            method=method,
            url=f"https://api.example.com/v1/items/{index}?page={index % 50}&sort=name",
            headers=REQUEST_HEADERS,
            body=Body(request_body if method == "POST" else b""),
        ),
        response=Response(
            status=chance.choice((200, 200, 200, 201, 304, 404, 500)),
            reason="OK",
            headers=[
                ("content-type", content_type),
                ("cache-control", "no-store"),
                ("set-cookie", "session=abc123; Path=/; HttpOnly; Secure"),
                ("server", "nginx"),
            ],
            body=Body(body),
        ),
        timings=Timings(dns=0, connect=1200, ssl=3400, send=80, wait=45000, receive=900),
    )


def build(location: str, counts: dict[str, int]) -> dict[str, str]:
    store = open_store(location)
    chance = random.Random(11)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    sessions = {}
    for name, count in counts.items():
        session = store.create_session(name)
        sessions[name] = session.id
        for first in range(0, count, 5_000):
            batch = range(first, min(count, first + 5_000))
            store.add_flows(record(chance, start, index, session.id) for index in batch)
    store.close()
    return sessions


def run(script: str, db: str, session: str, format_name: str, out: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", script, str(db), session, format_name, str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--formats", default="har,json,csv,postman,html,savehar")
    parser.add_argument("--engine", choices=ENGINES, default="sqlite")
    args = parser.parse_args()
    chosen = args.formats.split(",")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = bench_database(args.engine, tmp)
        print(f"engine: {args.engine}")
        sessions = build(db, {"small": args.small, "large": args.large})
        print(f"{'format':9} {'flows':>7} {'seconds':>8} {'peak MB':>8} {'file MB':>8} body reads")
        for size in ("small", "large"):
            for name in chosen:
                if name == "savehar":
                    figures = run(SAVEHAR_RUN, db, sessions[size], "har", tmp / "savehar.har")
                else:
                    figures = run(EXPORT_RUN, db, sessions[size], name, tmp / f"out.{name}")
                show(name, figures)


def show(name: str, figures: dict) -> None:
    reads = "-" if figures["body_reads"] < 0 else f"{figures['body_reads']:,}"
    print(
        f"{name:9} {figures['flows']:>7,} {figures['seconds']:>8.2f} {figures['peak_mb']:>8.0f} "
        f"{figures['size'] / 1e6:>8.1f} {reads}"
    )


if __name__ == "__main__":
    main()
