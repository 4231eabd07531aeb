"""Benchmark of the HTML report: time and file size for 10,000 varied flows.

Target (the report issue): under 3 s and under 15 MB. Records carry realistic header sets,
because headers are most of the report's weight (the detail panel shows them).
    python scripts/benchmarks/report_bench.py [--flows N] [--keep PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mitmtape.export.base import ExportContext
from mitmtape.export.report import FORMAT
from mitmtape.model import Body, FlowRecord, Request, Response, Session, Timings

TARGET_SECONDS = 3.0
TARGET_BYTES = 15_000_000
HOSTS = ("api.example.com", "cdn.example.net", "auth.example.com", "telemetry.example.io")
PATHS = ("/v1/users/{n}", "/v1/orders/{n}/items", "/static/app.{n}.js", "/graphql", "/ünïcode/{n}")
METHODS = ("GET",) * 12 + ("POST",) * 4 + ("PUT", "DELETE", "PATCH", "OPTIONS")
STATUSES = (200,) * 30 + (201, 204, 301, 304, 400, 401, 404, 429, 500, 502, 503)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126"


def build_records(count: int, seed: int = 7) -> list[FlowRecord]:
    chance = random.Random(seed)
    start = datetime(2025, 3, 8, 14, 30, tzinfo=UTC)
    return [_record(chance, start, index) for index in range(count)]


def _record(chance: random.Random, start: datetime, index: int) -> FlowRecord:
    host = chance.choice(HOSTS)
    path = chance.choice(PATHS).format(n=chance.randrange(10**6))
    query = f"?page={chance.randrange(50)}&sort=created_at" if chance.random() < 0.4 else ""
    request = Request(
        method=chance.choice(METHODS),
        url=f"https://{host}{path}{query}",
        headers=[
            ("host", host),
            ("user-agent", USER_AGENT),
            ("accept", "application/json, text/plain, */*"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate, br"),
            ("authorization", f"Bearer eyJhbGciOiJIUzI1NiJ9.{chance.getrandbits(128):x}"),
            ("x-request-id", f"{chance.getrandbits(64):016x}"),
            ("cookie", f"session={chance.getrandbits(96):x}; theme=dark"),
        ],
        body=Body(omitted=chance.choice((0, 0, 120, 2048))),
    )
    failed = chance.random() < 0.01
    response = None
    if not failed:
        response = Response(
            status=chance.choice(STATUSES),
            reason="OK",
            headers=[
                ("date", "Sat, 08 Mar 2025 14:30:22 GMT"),
                ("content-type", "application/json; charset=utf-8"),
                ("content-length", str(chance.randrange(20, 90_000))),
                ("cache-control", "no-store"),
                ("etag", f'W/"{chance.getrandbits(64):x}"'),
                ("server", "nginx"),
                ("strict-transport-security", "max-age=63072000; includeSubDomains"),
                ("x-trace-id", f"{chance.getrandbits(64):016x}"),
            ],
            body=Body(omitted=chance.randrange(20, 90_000)),
        )
    return FlowRecord(
        request=request,
        response=response,
        started_at=start + timedelta(milliseconds=index * 180 + chance.randrange(150)),
        duration_ms=None if failed else chance.lognormvariate(4.5, 1.0),
        timings=Timings(dns=-1, connect=-1, ssl=-1, send=80, wait=chance.randrange(10**5)),
        error="connection refused" if failed else None,
        tags=["slow"] if chance.random() < 0.05 else [],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="also keep the report at this path")
    arguments = parser.parse_args()
    records = build_records(arguments.flows)
    context = ExportContext(
        session=Session(id="bench", name="Benchmark session"),
        matched=len(records),
        cap=FORMAT.cap,
    )
    with tempfile.TemporaryDirectory() as folder:
        target = arguments.keep or Path(folder) / "report.html"
        began = time.perf_counter()
        with target.open("w", encoding="utf-8") as out:
            FORMAT.write(out, iter(records), context)
        seconds = time.perf_counter() - began
        size = target.stat().st_size
    ok = seconds < TARGET_SECONDS and size < TARGET_BYTES
    target = f"target < {TARGET_SECONDS:.0f} s, < {TARGET_BYTES / 1e6:.0f} MB"
    verdict = "ok" if ok else "OVER TARGET"
    figures = f"{len(records):,} flows in {seconds:.2f} s, {size / 1e6:.1f} MB"
    print(f"report: {figures} ({target}): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
