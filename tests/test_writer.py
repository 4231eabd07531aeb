"""The writer process: batches, flushes, reports, and what happens when the proxy dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mitmproxy.test import tflow

from mitmtape.record import snapshot_of
from mitmtape.store import Store
from mitmtape.writer import FlowWriter
from tests.conftest import RecordFactory


def test_flush_commits_everything_submitted(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.path, interval=5.0)
    for _ in range(1_234):
        writer.submit(session, make_record(session_id=session))
    assert writer.flush(timeout=30)
    assert store.count_flows(session) == 1_234
    writer.close()


def test_snapshots_become_records_in_the_child(store: Store) -> None:
    session = store.active_session().id
    flow = tflow.tflow(resp=True)
    writer = FlowWriter(store.path)
    writer.submit(session, snapshot_of(flow, True))
    writer.close()
    [[record]] = list(store.iter_flow_batches(session))
    assert record.request.url == flow.request.pretty_url
    assert record.response is not None and record.response.body.data == flow.response.raw_content


def test_a_submitted_flow_keeps_nothing_of_the_flow_alive(store: Store) -> None:
    """Flows are pickled at once: no mitmproxy object waits for the sender (memory, GC)."""
    flow = tflow.tflow(resp=True)
    flow.response.content = b"x" * 10_000
    body, fields = flow.response.raw_content, flow.request.headers.fields
    before = sys.getrefcount(body), sys.getrefcount(fields)
    writer = FlowWriter(store.path, interval=5.0)
    writer.submit(store.active_session().id, snapshot_of(flow, True))
    assert (sys.getrefcount(body), sys.getrefcount(fields)) == before
    writer.close()
    assert store.count_flows(store.active_session().id) == 1


def test_flows_submitted_while_batches_are_sent_are_all_kept(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.path)

    def submit_many() -> None:
        for _ in range(500):
            writer.submit(session, make_record(session_id=session))
            time.sleep(0)

    threads = [threading.Thread(target=submit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert store.count_flows(session) == 2_000


def test_batches_commit_by_size_and_report_them(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    seen: list[int] = []
    writer = FlowWriter(
        store.path, on_written=lambda batch: seen.append(len(batch)), batch_size=100
    )
    records = [make_record(session_id=session) for _ in range(250)]
    for record in records:
        writer.submit(session, record)
    writer.close()
    assert sum(seen) == 250 and max(seen) <= 100
    assert writer.written == 250


def test_summaries_are_reported_when_asked(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    summaries: list[dict] = []
    writer = FlowWriter(store.path, on_written=summaries.extend)
    record = make_record(session_id=session)
    writer.submit(session, record)
    assert writer.flush()
    writer.close()
    assert summaries == [record.summary() | {"session_id": session}]


def test_batches_commit_by_time_without_flush(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.path, interval=0.05)
    writer.submit(session, make_record(session_id=session))
    deadline = time.monotonic() + 10
    while store.count_flows(session) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.count_flows(session) == 1
    writer.close()


def test_close_twice_and_flush_after_close_are_harmless(store: Store) -> None:
    writer = FlowWriter(store.path)
    writer.close()
    writer.close()
    assert writer.flush() is False


def test_child_commits_what_it_has_when_the_proxy_is_killed(tmp_path: Path) -> None:
    """A proxy process that dies by SIGKILL: its writer still commits what it was sent."""
    db = tmp_path / "t.db"
    Store(db).close()
    script = f"""
import sys, time
from mitmtape.store import Store
from mitmtape.writer import FlowWriter
from mitmtape.model import FlowRecord, Request
store = Store({str(db)!r}); session = store.active_session().id
writer = FlowWriter(store.path, interval=60.0)
for n in range(300):
    record = FlowRecord(request=Request("GET", f"http://a.test/{{n}}"), session_id=session)
    writer.submit(session, record)
time.sleep(1.0)  # let the sender hand everything to the child
print("sent", flush=True)
time.sleep(60)
"""
    proxy = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proxy.stdout is not None and proxy.stdout.readline().strip() == "sent"
    os.kill(proxy.pid, signal.SIGKILL)
    proxy.wait(10)
    store = Store(db)
    deadline = time.monotonic() + 20
    while store.active_session().flow_count < 300 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.active_session().flow_count == 300
    store.close()
