"""The writer process: batches, flushes, reports, and what happens when the proxy dies."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy.log import ALERT
from mitmproxy.test import tflow

from mitmtape.capture.record import snapshot_of
from mitmtape.capture.wirerows import pending_of_record
from mitmtape.capture.writer import SPOOL_BODY_BYTES, FlowWriter, footprint
from mitmtape.store import Store
from mitmtape.store.rows import Listing, summary_of
from tests.conftest import RecordFactory
from tests.e2e.tmpfs import fill, small_tmpfs
from tests.waiting import wait_until

# What the writer does in the background is done within this time, or it is broken.
WAIT_SECONDS = 30


def test_flush_commits_everything_submitted(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.location, interval=5.0)
    for _ in range(1_234):
        writer.submit(session, make_record(session_id=session))
    assert writer.flush(timeout=30)
    assert store.count_flows(session) == 1_234
    writer.close()


def test_snapshots_become_records_in_the_child(store: Store) -> None:
    session = store.active_session().id
    flow = tflow.tflow(resp=True)
    writer = FlowWriter(store.location)
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
    writer = FlowWriter(store.location, interval=5.0)
    writer.submit(store.active_session().id, snapshot_of(flow, True))
    assert (sys.getrefcount(body), sys.getrefcount(fields)) == before
    writer.close()
    assert store.count_flows(store.active_session().id) == 1


def test_flows_submitted_while_batches_are_sent_are_all_kept(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.location)

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
        store.location, on_written=lambda batch: seen.append(len(batch)), batch_size=100
    )
    records = [make_record(session_id=session) for _ in range(250)]
    for record in records:
        writer.submit(session, record)
    writer.close()
    assert sum(seen) == 250 and max(seen) <= 100
    assert writer.written == 250


def test_listings_are_reported_when_asked(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    listings: list[Listing] = []
    writer = FlowWriter(store.location, on_written=listings.extend)
    record = make_record(session_id=session)
    writer.submit(session, record)
    writer.submit(session, snapshot_of(tflow.tflow(resp=True), True))
    assert writer.flush()
    writer.close()
    stored = [store.get_flow(listing[0]) for listing in listings]
    assert stored[0] == record
    assert [summary_of(listing) for listing in listings] == [
        {"session_id": session, **flow.summary()} for flow in stored
    ]


def test_batches_commit_by_time_without_flush(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store.location, interval=0.05)
    writer.submit(session, make_record(session_id=session))
    wait_until(lambda: store.count_flows(session), WAIT_SECONDS, "a commit by time")
    assert store.count_flows(session) == 1
    writer.close()


def test_close_twice_and_flush_after_close_are_harmless(store: Store) -> None:
    writer = FlowWriter(store.location)
    writer.close()
    writer.close()
    assert writer.flush() is False


def test_child_commits_what_it_has_when_the_proxy_is_killed(tmp_path: Path) -> None:
    """A proxy process that dies by SIGKILL: its writer still commits what it was sent."""
    db = tmp_path / "t.db"
    Store(db).close()
    script = f"""
import sys, threading, time
from mitmtape.store import Store
from mitmtape.store.rows import Listing, summary_of
from mitmtape.capture import writer as module
from mitmtape.model import FlowRecord, Request
# Told when the sender has written all 300 flows into the child's pipe (one chunk per flow).
handed, written, write_all = threading.Event(), [], module._write_all
def counting(stream, chunks):
    write_all(stream, chunks)
    written.extend(chunks)
    if len(written) >= 300:
        handed.set()
module._write_all = counting
store = Store({str(db)!r}); session = store.active_session().id
writer = module.FlowWriter(store.location, interval=60.0)
for n in range(300):
    record = FlowRecord(request=Request("GET", f"http://a.test/{{n}}"), session_id=session)
    writer.submit(session, record)
assert handed.wait(30)
print("sent", flush=True)
time.sleep(60)  # a proxy still running, until the test kills it
"""
    proxy = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proxy.stdout is not None and proxy.stdout.readline().strip() == "sent"
    os.kill(proxy.pid, signal.SIGKILL)
    proxy.wait(10)
    store = Store(db)
    wait_until(lambda: store.active_session().flow_count >= 300, WAIT_SECONDS, "the child's commit")
    assert store.active_session().flow_count == 300
    store.close()


def _alerts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == ALERT]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


def _stored_urls(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM flows ORDER BY rowid")]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB tmpfs (the writer's database goes there, and it is then filled)."""
    with small_tmpfs(tmp_path / "disk") as folder:
        yield folder


def _records(make_record: RecordFactory, session: str, count: int, start: int = 0) -> list:
    return [
        make_record(session_id=session, url=f"https://a.test/{n}", response_body=b"x" * 50_000)
        for n in range(start, start + count)
    ]


def test_a_full_disk_keeps_flows_and_commits_them_in_order_when_space_returns(
    disk: Path, make_record: RecordFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(ALERT)
    store = Store(disk / "tape.db")
    session = store.active_session().id
    writer = FlowWriter(store.location)
    assert writer.flush()  # the child has opened the database
    filler = fill(disk)
    records = _records(make_record, session, 20)
    for record in records:
        writer.submit(session, record)
    assert writer.flush()  # tried and failed: a flush does not wait for the disk
    assert store.count_flows(session) == 0
    [failing] = _alerts(caplog)
    assert "database or disk is full" in failing and "keeping 20 flows in memory" in failing
    filler.unlink()
    wait_until(lambda: len(_alerts(caplog)) == 2, WAIT_SECONDS, "the recovery alert")
    assert _alerts(caplog)[1] == (
        f"mitmtape: writing to {store.path} again: committed 20 flows that waited"
    )
    assert _stored_urls(store.path) == [record.request.url for record in records]
    writer.close()
    store.close()
    assert len(_alerts(caplog)) == 2 and not _errors(caplog)


@pytest.mark.parametrize(("spare", "dropped"), [(0, 0), (-1, 1)])
def test_the_retry_buffer_holds_its_limit_and_drops_past_it_saying_how_many(
    disk: Path,
    make_record: RecordFactory,
    caplog: pytest.LogCaptureFixture,
    spare: int,
    dropped: int,
) -> None:
    """Buffered flows filling the limit exactly are all kept; one byte less drops the last."""
    caplog.set_level(ALERT)
    store = Store(disk / "tape.db")
    session = store.active_session().id
    records = _records(make_record, session, 6)
    limit = sum(footprint(pending_of_record(record)) for record in records) + spare
    writer = FlowWriter(store.location, retry_buffer_bytes=limit)
    assert writer.flush()
    filler = fill(disk)
    writer.submit(session, records[0])
    assert writer.flush() and len(_alerts(caplog)) == 1  # writes fail from here on
    for record in records[1:]:
        writer.submit(session, record)
    assert writer.flush()
    drops = [message for message in _errors(caplog) if "dropped" in message]
    if dropped:
        assert drops == [
            f"mitmtape: the write buffer is full ({limit // 2**20} MB): dropped 1 flows"
        ]
    else:
        assert drops == []
    filler.unlink()
    wait_until(lambda: len(_alerts(caplog)) == 2, WAIT_SECONDS, "the recovery alert")
    kept = records[: len(records) - dropped]
    assert _stored_urls(store.path) == [record.request.url for record in kept]
    assert _alerts(caplog)[1].endswith(f"committed {len(kept)} flows that waited")
    writer.close()
    store.close()


@pytest.mark.parametrize("extra", [0, 1, 3_000_000])
def test_large_bodies_travel_beside_their_flow_and_arrive_whole_in_order(
    store: Store, extra: int
) -> None:
    """At SPOOL_BODY_BYTES a body rides in its flow's pickle; past it, beside it."""
    session = store.active_session().id
    writer = FlowWriter(store.location)
    sent = []
    for n in range(3):
        flow = tflow.tflow(resp=True)
        flow.request.path = f"/{n}"
        flow.request.content = bytes([n]) * (SPOOL_BODY_BYTES + extra)
        flow.response.content = bytes([n + 1]) * (SPOOL_BODY_BYTES + extra + n)
        small = tflow.tflow(resp=True)
        small.request.path = f"/small/{n}"
        sent += [flow, small]
        writer.submit(session, snapshot_of(flow, True))
        writer.submit(session, snapshot_of(small, True))
    writer.close()
    [records] = list(store.iter_flow_batches(session))
    assert [record.request.path for record in records] == [f.request.path for f in sent]
    for record, flow in zip(records, sent, strict=True):
        assert record.request.body.data == flow.request.raw_content
        assert record.response is not None
        assert record.response.body.data == flow.response.raw_content


def test_the_database_reaches_the_child_by_environment_not_its_command_line(
    store: Store, make_record: RecordFactory
) -> None:
    """A PostgreSQL URL carries a password: `ps` shows every process's arguments."""
    writer = FlowWriter(store.location)
    try:
        child = writer._child.pid
        arguments = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        environment = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        assert store.location.encode() not in b" ".join(arguments)
        assert f"MITMTAPE_WRITER_DB={store.location}".encode() in environment
        session = store.active_session().id
        writer.submit(session, make_record(session_id=session))
        assert writer.flush()
        assert store.count_flows(session) == 1
    finally:
        writer.close()
