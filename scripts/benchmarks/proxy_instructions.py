"""Instructions a mitmdump process executes per request, counted by valgrind's callgrind.

On a shared or virtual machine, requests per second through two identical proxies differ by a
few percent between runs: more than the 2% between mitmtape and an empty script addon that
`scripts/bench capture` has to resolve. An instruction count does not depend on the box's load
or clock. Each proxy runs under callgrind with counting off; after a warm-up, counting is
switched on (callgrind_control) for a fixed number of requests sent one after another over one
keep-alive connection, and off again before the proxy shuts down. What still moves the figure
between runs is which window a garbage collection lands in.

valgrind traces the proxy process only (no --trace-children): mitmtape's writer, a child
process, runs untraced. Each thread is counted apart. The event loop's thread is the figure:
it is the proxy's own work, what stands between a client and its response. mitmtape's sender
and listener threads work once per wake-up (every `SEND_INTERVAL_S` of mitmtape's writer, every
commit), not once per flow, so under valgrind, where a request takes some 50 times longer, they
wake for every few requests instead of every few dozen: their count per request is printed
apart, as an upper bound. (Measured: with both intervals 50 times longer, their count fell from
about 55,000 to 4,000 per request, and the event loop's by under 0.1%.)
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' free_port
from tests.ports import LOOPBACK, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_flow import PATH

WARMUP_REQUESTS = 50  # caches, lazily imported code, the first flow's work in mitmtape
# Python under valgrind runs many times slower: mitmdump takes 10-60 s to start, more on a busy box.
START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 60
POLL_S = 0.5


def callgrind_command(out_file: Path, command: list[str]) -> list[str]:
    """`command` under callgrind, counting nothing until told to, its counts into out_file."""
    return [
        "valgrind",
        "-q",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out_file}",
        *command,
    ]


def wait_listening(process: subprocess.Popen, port: int) -> None:
    """Until the proxy accepts connections on port (or has exited, or the time is up)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mitmdump under valgrind exited ({process.returncode})")
        try:
            socket.create_connection((LOOPBACK, port), timeout=POLL_S).close()
            return
        except OSError:
            time.sleep(POLL_S)
    raise RuntimeError(f"mitmdump under valgrind did not listen within {START_TIMEOUT_S} s")


def send(connection: http.client.HTTPConnection, count: int) -> None:
    """count requests, one after another, each response read to its end."""
    for _ in range(count):
        connection.request("GET", PATH)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the proxy answered {response.status} to GET {PATH}")


def switch_counting(pid: int, state: str) -> None:
    """callgrind's instrumentation on or off in process pid. callgrind_control exits 0 even
    when it finds no such process, so its "OK." is what says it worked."""
    result = subprocess.run(
        ["callgrind_control", "-i", state, str(pid)], capture_output=True, text=True
    )
    if result.returncode != 0 or "OK." not in result.stdout:
        raise RuntimeError(
            f"callgrind_control -i {state} {pid} failed (exit {result.returncode}): "
            f"{result.stdout.strip()} {result.stderr.strip()}"
        )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and the wait for valgrind to write its counts as the process exits."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError("mitmdump under valgrind ignored SIGTERM; its counts are lost") from None


def thread_totals(out_file: Path) -> list[int]:
    """Each thread's Ir total, the event loop's (thread 1) first: callgrind writes one file per
    thread, out_file with `-01`, `-02`... appended."""
    files = sorted(out_file.parent.glob(f"{out_file.name}-*"), key=lambda f: int(f.name[-2:]))
    if not files:
        raise RuntimeError(f"callgrind wrote no counts beside {out_file}")
    return [total_instructions(file) for file in files]


def total_instructions(out_file: Path) -> int:
    """The Ir total of a callgrind output file: its `totals:` line, at the end. The `summary:`
    line in its header says 0 when counting was switched on by callgrind_control (valgrind
    3.19), so it is only the fallback for a file without `totals:`."""
    lines = out_file.read_text().splitlines()
    for key in ("totals:", "summary:"):
        for line in lines:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"{out_file} has no summary: or totals: line")


def count_instructions(
    command: Callable[[int], list[str]], requests: int, out_file: Path
) -> tuple[int, int]:
    """Instructions the proxy's event-loop thread, and its other threads together, execute
    answering `requests` requests, after a warm-up."""
    port = free_port()
    process = subprocess.Popen(callgrind_command(out_file, command(port)))
    try:
        wait_listening(process, port)
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_S)
        try:
            send(connection, WARMUP_REQUESTS)
            switch_counting(process.pid, "on")
            send(connection, requests)
            switch_counting(process.pid, "off")
        finally:
            connection.close()
    finally:
        stop(process)
    event_loop, *others = thread_totals(out_file)
    if event_loop == 0:
        raise RuntimeError(f"callgrind counted no instructions ({out_file})")
    return event_loop, sum(others)


def instructions_per_request(
    commands: Mapping[str, Callable[[int], list[str]]], requests: int
) -> dict[str, tuple[float, float]]:
    """Each proxy's instructions per request: its event loop's, and its other threads'.
    commands gives, for each proxy, its mitmdump command line listening on a given port. One
    valgrind at a time: each needs a core."""
    per_request = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in commands.items():
            out_file = Path(tmp) / f"{name}.callgrind"
            event_loop, others = count_instructions(command, requests, out_file)
            per_request[name] = (event_loop / requests, others / requests)
    return per_request
