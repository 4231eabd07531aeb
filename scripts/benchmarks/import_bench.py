"""Benchmark: mitmtape's HAR import beside mitmproxy's own HAR reader, on the same files.

Generates a 50,000-entry HAR and a ~250 MB HAR in a temporary folder, then runs each reader in
its own subprocess (so peak memory is that run's alone) and prints wall time, CPU time (user +
system: steadier than wall time on a busy machine) and peak RSS.
Not a test: figures depend on the machine.
    python scripts/benchmarks/import_bench.py [--entries 50000] [--megabytes 250]
        [--readers mitmtape,mitmproxy]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRIES_SMALL = 50_000
BIG_FILE_MEGABYTES = 250
MEMORY_TARGET_MB = 300

MITMTAPE_RUN = """
import sys
from mitmtape.importers import import_new_session
from mitmtape.store import Store
store = Store(sys.argv[2])
session, result = import_new_session(store, sys.argv[1], format="har")
print(result.imported, result.skipped)
"""
MITMPROXY_RUN = """
import sys
from mitmproxy import io
with open(sys.argv[1], "rb") as handle:
    count = sum(1 for _ in io.FlowReader(handle).stream())
print(count, 0)
"""


def entry(index: int, body: str, binary: bytes) -> dict:
    """One realistic entry: a JSON API call, every tenth an image, every seventh a gzip page."""
    headers = [
        {"name": "Host", "value": "api.example.com"},
        {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) bench"},
        {"name": "Accept", "value": "application/json"},
        {"name": "Cookie", "value": f"session=abc{index}; theme=dark"},
    ]
    content = {"size": len(body), "mimeType": "application/json", "text": body}
    response_headers = [
        {"name": "Content-Type", "value": "application/json"},
        {"name": "Cache-Control", "value": "no-store"},
    ]
    if index % 10 == 0:
        encoded = base64.b64encode(binary).decode()
        content = {
            "size": len(binary),
            "mimeType": "image/png",
            "text": encoded,
            "encoding": "base64",
        }
        response_headers[0]["value"] = "image/png"
    elif index % 7 == 0:
        response_headers.append({"name": "Content-Encoding", "value": "gzip"})
    return {
        "startedDateTime": f"2026-03-08T14:{index // 60 % 60:02d}:{index % 60:02d}.123Z",
        "time": 42.5,
        "request": {
            "method": "POST" if index % 5 == 0 else "GET",
            "url": f"https://api.example.com/v1/items/{index}?page=2",
            "httpVersion": "HTTP/1.1",
            "headers": headers,
            "queryString": [{"name": "page", "value": "2"}],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
            **(
                {"postData": {"mimeType": "application/json", "text": '{"q": 1}'}}
                if index % 5 == 0
                else {}
            ),
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": response_headers,
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(body),
        },
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 1,
            "wait": 40,
            "receive": 1.5,
        },
    }


def write_har(
    path: Path, *, entries: int | None = None, size: int | None = None, body_items: int
) -> int:
    """Stream a HAR to disk, entry by entry, until `entries` or `size` bytes are reached."""
    body = json.dumps(
        {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(body_items)]}
    )
    binary = os.urandom(2048)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            '{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": ['
        )
        while (entries is None or written < entries) and (size is None or handle.tell() < size):
            handle.write(("," if written else "") + json.dumps(entry(written, body, binary)))
            written += 1
        handle.write("]}}")
    return written


def measure(code: str, har: Path, workdir: Path) -> tuple[float, float, float, str]:
    """Wall and CPU seconds, peak RSS in MB, and the output of one run in a fresh subprocess.

    `os.wait4` gives the resource usage of that one child, so runs do not mix their peaks.
    """
    db = workdir / "bench.db"
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(har), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    for leftover in workdir.glob("bench.db*"):
        leftover.unlink()
    if child.returncode != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else "run failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.strip()


READERS = {"mitmtape": MITMTAPE_RUN, "mitmproxy": MITMPROXY_RUN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=ENTRIES_SMALL)
    parser.add_argument("--megabytes", type=int, default=BIG_FILE_MEGABYTES)
    parser.add_argument("--readers", default=",".join(READERS))
    args = parser.parse_args()
    names = args.readers.split(",")
    if unknown := sorted(set(names) - set(READERS)):
        parser.error(f"unknown reader {', '.join(unknown)}; choose from {', '.join(READERS)}")
    readers = {name: READERS[name] for name in names}
    with tempfile.TemporaryDirectory(prefix="mitmtape-import-bench-") as folder:
        workdir = Path(folder)
        files = {
            f"{args.entries:,} entries": (workdir / "small.har", {"entries": args.entries}, 3),
            f"~{args.megabytes} MB": (
                workdir / "big.har",
                {"size": args.megabytes * 1024 * 1024},
                40,
            ),
        }
        print(
            f"{'file':<18}{'reader':<12}{'entries':>9}{'MB':>8}{'wall s':>9}{'cpu s':>8}"
            f"{'peak MB':>10}"
        )
        for label, (path, limit, body_items) in files.items():
            count = write_har(path, body_items=body_items, **limit)
            size_mb = path.stat().st_size / 1024 / 1024
            for reader, code in readers.items():
                try:
                    wall, cpu, peak, out = measure(code, path, workdir)
                except RuntimeError as exc:
                    print(f"{label:<18}{reader:<12}failed: {exc}")
                    continue
                read = out.split()[0]
                print(
                    f"{label:<18}{reader:<12}{read:>9}{size_mb:>8.0f}{wall:>9.2f}{cpu:>8.2f}"
                    f"{peak:>10.0f}"
                )
            print(f"{'':<18}({count:,} entries written; memory target {MEMORY_TARGET_MB} MB)")
            path.unlink()


if __name__ == "__main__":
    main()
