"""Requests per second through plain mitmdump and through mitmdump with mitmtape, same load.

Three proxies run in reverse mode in front of the same fast local upstream: plain mitmdump,
mitmdump with an empty script addon (what loading any `-s` script costs in mitmproxy itself)
and mitmdump with mitmtape recording. wrk drives each in turn, many short rounds in alternating
order, so the box's noise hits all alike; the headline is the median of per-round ratios.

Also printed: the CPU mitmtape's writer process spends per flow (its utime and stime from /proc,
read once it has committed the warm-up's flows and again once it has committed the rounds'),
and the database's bytes per flow stored.

With `--instructions N`, afterwards: the instructions each proxy's process executes per
request, counted by valgrind's callgrind over N requests (see proxy_instructions.py). Unlike
requests per second, that figure does not move with the box's noise, so it can tell whether
mitmtape is within 2% of the empty addon.

With `--baseline REV`, afterwards: the writer's CPU per flow against REV's, each fed the same
flow at the rate mitmtape kept in the rounds, in alternating runs (see writer_pace.py): a ratio
from one run, which the box's drift between hours does not move as it moves the absolute figure.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' free_port
from mitmtape.store import Store, open_store
from tests.ports import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import ENGINES, bench_database
from bench_flow import PATH, RESPONSE
from proc_stat import cpu_seconds
from proxy_instructions import instructions_per_request
from writer_pace import commit_of, report_against, writer_cpu_against

REPO = Path(__file__).resolve().parents[2]


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


EMPTY_ADDON = "class Nothing:\n    pass\n\n\naddons = [Nothing()]\n"


def proxy_scripts(folder: Path, database: str) -> dict[str, list[str]]:
    """Each proxy's script arguments: none, the empty addon (written into folder), mitmtape
    recording into database."""
    (folder / "empty.py").write_text(EMPTY_ADDON)
    tape_script = str(REPO / "addon" / "tape.py")
    return {
        "plain": [],
        "empty": ["-s", str(folder / "empty.py")],
        "tape": ["-s", tape_script, "--set", f"tape_db={database}"],
    }


def mitmdump_args(upstream: int, folder: Path, script_args: list[str], port: int) -> list[str]:
    """This environment's mitmdump, listening on port, in reverse mode in front of upstream."""
    args = [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1"]
    args += ["-p", str(port), "--mode", f"reverse:http://127.0.0.1:{upstream}"]
    return [*args, "--set", f"confdir={folder / 'conf'}", *script_args]


def start_proxy(
    upstream: int, folder: Path, script_args: list[str]
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(mitmdump_args(upstream, folder, script_args, port))
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mitmdump did not start")


def wrk(port: int, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second, and requests sent."""
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s*([\d.]+)", result.stdout)
    sent = re.search(r"(\d+) requests in", result.stdout)
    if not rate or not sent:
        raise RuntimeError(result.stdout)
    return float(rate.group(1)), int(sent.group(1))


# How often to look whether the writer is still committing (flows stored, CPU spent).
SETTLE_POLL_S = 0.25


def writer_pid(proxy_pid: int) -> int:
    """mitmtape's writer: the child process of the mitmdump running mitmtape."""
    for children in Path(f"/proc/{proxy_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            if b"mitmtape.capture.writer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise RuntimeError(f"mitmdump (pid {proxy_pid}) has no mitmtape writer process")


def recorded(store: Store) -> int:
    return sum(session.flow_count for session in store.list_sessions())


def settled(store: Store, writer: int) -> tuple[int, float]:
    """Flows stored and the writer's CPU seconds, once it has committed what it was sent:
    neither moves between two looks."""
    last = None
    while True:
        now = recorded(store), cpu_seconds(writer)
        if now == last:
            return now
        last = now
        time.sleep(SETTLE_POLL_S)


def database_bytes(store: Store) -> int:
    """The file and its write-ahead log (SQLite), or mitmtape's tables (PostgreSQL)."""
    with store._lock:
        return store.engine.size(store._db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring")
    parser.add_argument("--db", choices=ENGINES, default="sqlite", help="mitmtape's engine")
    # The more requests, the steadier the figure. A full garbage collection (of the ~80k objects
    # mitmproxy holds once imported) costs some 30M instructions and lands in one proxy's
    # window or another's: with 300 requests it moves the per-request figure by ~1%, with 1,000
    # by ~0.4%. Under valgrind a proxy takes some 10-60 s to start and ~0.1 s per request.
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="afterwards, count each proxy's instructions per request with valgrind's callgrind "
        "over N requests (0: off; 1000 is a good figure, 5 to 10 minutes in all)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="afterwards, compare the writer's CPU per flow with REV's, fed the same flows at "
        "mitmtape's rate in alternating runs (writer_pace.py)",
    )
    parser.add_argument("--baseline-rounds", type=int, default=3, help="runs of each writer")
    args = parser.parse_args()
    baseline = commit_of(args.baseline) if args.baseline else ""  # a wrong one fails now
    upstream = free_port()
    start_upstream(upstream)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = bench_database(args.db, folder)
        scripts = proxy_scripts(folder, database)
        proxies = {name: start_proxy(upstream, folder, extra) for name, extra in scripts.items()}
        rates: dict[str, list[float]] = {name: [] for name in proxies}
        # The proxy process's own CPU per request answered (its threads, not the writer).
        proxy_cpu: dict[str, list[float]] = {name: [] for name in proxies}
        sent_to_tape = 0
        store: Store | None = None
        try:
            for name, (_, port) in proxies.items():
                # Warm-up: caches, lazily imported code, the writer process's start.
                _, sent = wrk(port, args.warmup, args.connections)
                sent_to_tape += sent if name == "tape" else 0
            store = open_store(database)  # after mitmtape's proxy created it and recorded
            writer = writer_pid(proxies["tape"][0].pid)
            flows_before, cpu_before = settled(store, writer)
            for round_ in range(args.rounds):
                # Every other round in reverse order, so a drift of the box's speed is shared.
                order = list(proxies) if round_ % 2 == 0 else list(reversed(proxies))
                for name in order:
                    process, port = proxies[name]
                    cpu_start = cpu_seconds(process.pid)
                    rate, sent = wrk(port, args.seconds, args.connections)
                    proxy_cpu[name].append((cpu_seconds(process.pid) - cpu_start) / sent)
                    rates[name].append(rate)
                    sent_to_tape += sent if name == "tape" else 0
            flows_after, cpu_after = settled(store, writer)
            size = database_bytes(store)
        finally:
            for process, _ in proxies.values():
                process.terminate()
                process.wait(30)
            if store is not None:
                store.close()
    print(f"engine: {args.db}")
    report(rates, flows_after, sent_to_tape)
    report_proxy_cpu(proxy_cpu)
    rounds_flows = max(flows_after - flows_before, 1)
    print(
        f"writer CPU per flow: {(cpu_after - cpu_before) / rounds_flows * 1e6:.1f} µs "
        f"({rounds_flows} flows in the rounds); target <= 70 µs"
    )
    print(f"database bytes per flow: {size / max(flows_after, 1):,.0f} ({flows_after} flows)")
    sys.stdout.flush()  # before minutes of callgrind
    if baseline:
        rate = statistics.mean(rates["tape"])
        with tempfile.TemporaryDirectory() as tmp:
            ours, theirs = writer_cpu_against(
                baseline,
                lambda: bench_database(args.db, Path(tempfile.mkdtemp(dir=tmp))),  # a fresh one
                rate,
                args.baseline_rounds,
                args.seconds * 2,
            )
        report_against(args.baseline, rate, ours, theirs)
        sys.stdout.flush()
    if args.instructions > 0:
        per_request = instructions_of_proxies(upstream, args.db, args.instructions)
        report_instructions(per_request, args.instructions)


def instructions_of_proxies(
    upstream: int, engine: str, requests: int
) -> dict[str, tuple[float, float]]:
    """Each proxy's instructions per request (callgrind), its event loop's and its other
    threads', from fresh proxies into a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scripts = proxy_scripts(folder, bench_database(engine, folder))
        commands = {
            name: functools.partial(mitmdump_args, upstream, folder, extra)
            for name, extra in scripts.items()
        }
        return instructions_per_request(commands, requests)


def report(rates: dict[str, list[float]], recorded: int, sent: int) -> None:
    """Means, and the median of per-round ratios (a round's runs are seconds apart)."""
    for name, label in (("plain", "plain mitmdump"), ("empty", "mitmdump -s (empty addon)"),
                        ("tape", "mitmdump -s addon/tape.py")):  # fmt: skip
        rounds = [round(rate) for rate in rates[name]]
        print(f"{label:28s} {statistics.mean(rates[name]):7.0f} req/s  {rounds}")
    for name, label in (("empty", "empty addon / plain"), ("tape", "mitmtape / plain")):
        per_round = [a / b for a, b in zip(rates[name], rates["plain"], strict=True)]
        print(
            f"{label:28s} median of rounds {statistics.median(per_round):.3f}, "
            f"of means {statistics.mean(rates[name]) / statistics.mean(rates['plain']):.3f}"
        )
    print("target: mitmtape / plain >= 0.97, within 2% of the empty addon")
    # wrk counts requests answered within its runs; the few in flight when a run ends are
    # answered (and recorded) after it, so the store may hold slightly more.
    print(f"flows recorded: {recorded}; requests wrk counted through mitmtape: {sent}")


def report_instructions(per_request: dict[str, tuple[float, float]], requests: int) -> None:
    print(
        f"event-loop instructions per request (callgrind, {requests} requests): "
        + ", ".join(f"{name} {loop:,.0f}" for name, (loop, _) in per_request.items())
    )
    plain, empty, tape = (per_request[name][0] for name in ("plain", "empty", "tape"))
    print(
        f"  mitmtape / empty addon {tape / empty:.3f}, mitmtape / plain {tape / plain:.3f}, "
        f"empty addon / plain {empty / plain:.3f} (target: within 2% of the empty addon)"
    )
    print(
        "other threads per request under valgrind (they work per wake-up, not per flow: an "
        "upper bound): "
        + ", ".join(f"{name} {other:,.0f}" for name, (_, other) in per_request.items())
    )


def report_proxy_cpu(proxy_cpu: dict[str, list[float]]) -> None:
    """What each proxy's process spends per request, and what each script adds to plain's:
    the median of per-round differences, paired like the rates, so a drift is shared."""
    medians = {name: statistics.median(values) * 1e6 for name, values in proxy_cpu.items()}
    print(
        "proxy CPU per request (median of rounds): "
        + ", ".join(f"{name} {value:.0f} µs" for name, value in medians.items())
    )
    added = {
        name: statistics.median(
            (a - b) * 1e6 for a, b in zip(proxy_cpu[name], proxy_cpu["plain"], strict=True)
        )
        for name in ("tape", "empty")
    }
    print(
        f"added to the proxy per request (median of rounds): mitmtape {added['tape']:.1f} µs, "
        f"the empty addon {added['empty']:.1f} µs"
    )


if __name__ == "__main__":
    main()
