"""Requests per second through plain mitmdump and through mitmdump with mitmtape, same load.

Both proxies run in reverse mode in front of the same fast local upstream; wrk drives each in
turn, several rounds alternating, so the box's noise hits both alike. Prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BODY = b'{"items": [1, 2, 3], "ok": true, "padding": "' + b"x" * 900 + b'"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal keep-alive HTTP/1.1 server: fast enough that the proxy is the bottleneck."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def start_upstream(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


def start_proxy(upstream: int, folder: Path, with_tape: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1"]
    args += ["-p", str(port), "--mode", f"reverse:http://127.0.0.1:{upstream}"]
    args += ["--set", f"confdir={folder / 'conf'}"]
    if with_tape:
        args += ["-s", str(REPO / "addon" / "tape.py"), "--set", f"tape_db={folder / 'tape.db'}"]
    process = subprocess.Popen(args)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mitmdump did not start")


def wrk(port: int, seconds: int, connections: int) -> float:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/api/items"],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s*([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(result.stdout)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    upstream = free_port()
    start_upstream(upstream)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain, plain_port = start_proxy(upstream, folder, with_tape=False)
        tape, tape_port = start_proxy(upstream, folder, with_tape=True)
        try:
            wrk(plain_port, 2, args.connections)  # warm-up: certificates, caches
            wrk(tape_port, 2, args.connections)
            results: dict[str, list[float]] = {"plain": [], "tape": []}
            for _ in range(args.rounds):
                results["plain"].append(wrk(plain_port, args.seconds, args.connections))
                results["tape"].append(wrk(tape_port, args.seconds, args.connections))
        finally:
            for process in (plain, tape):
                process.terminate()
                process.wait(30)
        with sqlite3.connect(folder / "tape.db") as db:
            recorded = db.execute("SELECT COUNT(*) FROM flows").fetchone()[0]
    plain_rps = sum(results["plain"]) / args.rounds
    tape_rps = sum(results["tape"]) / args.rounds
    print(f"plain mitmdump:          {plain_rps:8.0f} req/s  {results['plain']}")
    print(f"mitmdump + mitmtape:     {tape_rps:8.0f} req/s  {results['tape']}")
    print(f"ratio (target >= 0.95):  {tape_rps / plain_rps:8.3f}")
    print(f"flows recorded:          {recorded:8d}")


if __name__ == "__main__":
    main()
