from __future__ import annotations

import threading

from mitmtape.model import FlowRecord
from mitmtape.store import Store
from mitmtape.writer import FlowWriter
from tests.conftest import RecordFactory


def test_flush_commits_everything_submitted(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store, interval=5.0)
    for _ in range(1_234):
        writer.submit(make_record(session_id=session))
    assert writer.flush(timeout=30)
    assert store.count_flows(session) == 1_234
    writer.close()


def test_batches_commit_by_size_and_report_them(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    seen: list[int] = []
    writer = FlowWriter(store, on_written=lambda batch: seen.append(len(batch)), batch_size=100)
    for _ in range(250):
        writer.submit(make_record(session_id=session))
    writer.close()
    assert sum(seen) == 250 and max(seen) <= 100
    assert writer.written == 250


def test_batches_commit_by_time_without_flush(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    committed = threading.Event()
    writer = FlowWriter(store, on_written=lambda batch: committed.set(), interval=0.05)
    writer.submit(make_record(session_id=session))
    assert committed.wait(5)
    assert store.count_flows(session) == 1
    writer.close()


def test_submit_from_many_threads(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    writer = FlowWriter(store)
    records: list[FlowRecord] = [make_record(session_id=session) for _ in range(800)]
    threads = [
        threading.Thread(target=lambda part=records[i::8]: [writer.submit(r) for r in part])
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    ids = [r.id for b in store.iter_flow_batches(session, with_bodies=False) for r in b]
    assert sorted(ids) == sorted(r.id for r in records)


def test_close_twice_and_flush_after_close_are_harmless(store: Store) -> None:
    writer = FlowWriter(store)
    writer.close()
    writer.close()
    assert writer.flush() is True
