"""The writer's CPU per flow, this tree's against another revision's, fed the same flows.

`scripts/bench capture --baseline REV` asks whether the writer got cheaper: on a shared box the
absolute figure moves by tens of percent between hours, a ratio measured in one run does not.
Each run is a Python process of its own that imports mitmtape from one checkout (this tree, or
a git worktree of REV made for the comparison), opens a fresh store through that checkout's own
code and feeds a real FlowWriter the bench's flow at a fixed pace: the rate mitmtape's proxy
kept in the wrk rounds, since the writer's CPU per flow depends on how many flows share each of
its wake-ups. Once the writer has committed them, the child's CPU time is read from /proc. Runs
alternate between the checkouts, so a drift of the box is shared; the headline is the median of
per-round ratios.

The feeder uses only what every revision since the writer process has offered: `FlowWriter`
(its `submit`, `flush`, `pid` and `close`), `snapshot_of`, `open_store` and `create_session`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_flow import BODY, CONTENT_TYPE, PATH
from proc_stat import cpu_seconds

REPO = Path(__file__).resolve().parents[2]
WARMUP_FLOWS = 500  # the child's imports, SQLite's caches, the first commits
FEED_TIMEOUT_S = 600


def feed(checkout: Path, database: str, rate: float, seconds: float) -> float:
    """In this process: the CPU seconds per flow of checkout's writer, fed at rate flows/s."""
    sys.path.insert(0, str(checkout / "addon"))
    from mitmproxy.test import tflow

    import mitmtape
    from mitmtape.capture.record import snapshot_of
    from mitmtape.capture.writer import FlowWriter
    from mitmtape.store import open_store

    if not Path(mitmtape.__file__).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"mitmtape came from {mitmtape.__file__}, not from {checkout}")
    store = open_store(database)
    session = store.create_session("writer pace", activate=True)
    store.close()
    flow = tflow.tflow(resp=True)
    flow.request.path = PATH
    flow.request.headers["user-agent"] = "wrk"
    flow.response.headers["content-type"] = CONTENT_TYPE.decode()
    flow.response.content = BODY
    writer = FlowWriter(database)
    try:
        for _ in range(WARMUP_FLOWS):
            writer.submit(session.id, snapshot_of(flow))
        writer.flush()
        cpu_before = cpu_seconds(writer.pid)
        flows = max(int(rate * seconds), 1)
        start = time.monotonic()
        for sent in range(flows):
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing the load, not waiting for a result
            flow.request.timestamp_start = time.time()
            writer.submit(session.id, snapshot_of(flow, fresh_connection=False))
        if not writer.flush(FEED_TIMEOUT_S):
            raise RuntimeError("the writer did not commit the flows it was fed")
        return (cpu_seconds(writer.pid) - cpu_before) / flows
    finally:
        writer.close()


def commit_of(revision: str) -> str:
    """The commit revision names in this repository; one sentence and exit if none."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise SystemExit(f"--baseline {revision!r} is not a commit of this repository")
    return found.stdout.strip()


def writer_cpu_against(
    commit: str, new_database: Callable[[], str], rate: float, rounds: int, seconds: float
) -> tuple[list[float], list[float]]:
    """This tree's and commit's writer CPU per flow, a run of each per round."""
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--quiet", "--detach", str(other), commit],
            check=True,
        )
        try:
            runs: dict[Path, list[float]] = {REPO: [], other: []}
            for round_ in range(rounds):
                order = [REPO, other] if round_ % 2 == 0 else [other, REPO]
                for checkout in order:
                    runs[checkout].append(_feed_process(checkout, new_database(), rate, seconds))
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=False
            )
    return runs[REPO], runs[other]


def _feed_process(checkout: Path, database: str, rate: float, seconds: float) -> float:
    result = subprocess.run(
        [sys.executable, __file__, str(checkout), database, str(rate), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + FEED_TIMEOUT_S,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"feeding the writer of {checkout} failed: {last}")
    return float(result.stdout)


def report_against(baseline: str, rate: float, ours: list[float], theirs: list[float]) -> None:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(
        f"writer CPU per flow fed at {rate:.0f} flows/s, alternating runs: this tree "
        f"{statistics.median(ours) * 1e6:.1f} µs, {baseline} {statistics.median(theirs) * 1e6:.1f} "
        f"µs; this tree / {baseline}: median of rounds {statistics.median(ratios):.2f} "
        f"({', '.join(f'{ratio:.2f}' for ratio in ratios)}); target <= 0.5"
    )


if __name__ == "__main__":
    checkout_arg, database_arg, rate_arg, seconds_arg = sys.argv[1:]
    print(repr(feed(Path(checkout_arg), database_arg, float(rate_arg), float(seconds_arg))))
