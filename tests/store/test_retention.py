"""prune and vacuum (store/retention.py) and their commands, on every engine."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from mitmtape import cli
from mitmtape.capture.writer import FlowWriter
from mitmtape.model import utc_now
from mitmtape.store import Store, open_store
from tests.conftest import BASE_TIME, RecordFactory


def old_and_new(store: Store, make_record: RecordFactory, session_id: str, old: int, new: int):
    """`old` flows a second apart before BASE_TIME, `new` ones from it on, 1 KB bodies each."""
    store.add_flows(
        make_record(
            session_id=session_id,
            started_at=BASE_TIME + timedelta(seconds=n - old),
            response_body=b"b" * 1024,
        )
        for n in range(old + new)
    )


def orphan_bodies(store: Store) -> int:
    return store._db.execute(
        "SELECT COUNT(*) FROM bodies WHERE flow_id NOT IN (SELECT id FROM flows)"
    ).fetchone()[0]


def test_prune_deletes_only_older_flows_in_batches_and_keeps_the_counters(
    store: Store, make_record: RecordFactory
) -> None:
    first = store.active_session().id
    second = store.create_session("second").id
    old_and_new(store, make_record, first, 25, 5)
    old_and_new(store, make_record, second, 10, 3)
    result = store.prune(BASE_TIME, batch=4)
    assert result.flows == {store.get_session(first).name: 25, "second": 10}
    assert result.flow_count == 35 and result.sessions_removed == []
    for session_id, left in ((first, 5), (second, 3)):
        session = store.get_session(session_id)
        assert (
            session.flow_count
            == left
            == store._db.execute(
                "SELECT COUNT(*) FROM flows WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
        )
        assert session.first_flow_at == BASE_TIME
        assert session.total_size == left * (1024 + 0)
    assert orphan_bodies(store) == 0
    assert store.prune(BASE_TIME).flow_count == 0


def test_prune_of_one_session_leaves_the_others(store: Store, make_record: RecordFactory) -> None:
    first = store.active_session().id
    second = store.create_session("second").id
    old_and_new(store, make_record, first, 4, 1)
    old_and_new(store, make_record, second, 4, 1)
    result = store.prune(BASE_TIME, second)
    assert result.flows == {"second": 4}
    assert store.get_session(first).flow_count == 5


def test_empty_sessions_go_only_when_asked_never_the_active_one(
    store: Store, make_record: RecordFactory
) -> None:
    active = store.active_session()
    emptied = store.create_session("emptied")
    old_and_new(store, make_record, active.id, 3, 0)
    old_and_new(store, make_record, emptied.id, 3, 0)
    now = utc_now() + timedelta(seconds=1)
    assert store.prune(now).sessions_removed == []
    assert {s.name for s in store.list_sessions()} == {active.name, "emptied"}
    store.add_flows([])  # nothing written: the sessions' updated_at stays before `now`
    assert store.prune(now, empty_sessions=True).sessions_removed == ["emptied"]
    assert [s.name for s in store.list_sessions()] == [active.name]


def test_a_session_written_to_since_the_cutoff_is_kept(store: Store, make_record) -> None:
    kept = store.create_session("recent")
    cutoff = utc_now() - timedelta(days=1)
    # Flows that started long ago, written just now (an import of an old capture).
    old_and_new(store, make_record, kept.id, 3, 0)
    result = store.prune(cutoff, empty_sessions=True)
    assert result.flows == {"recent": 3} and result.sessions_removed == []


def test_a_recording_writer_loses_nothing_while_prune_runs(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    old_and_new(store, make_record, session, 3_000, 0)
    writer = FlowWriter(store.location, interval=0.01)
    submitted = 0
    done = threading.Event()

    def record() -> None:
        nonlocal submitted
        while not done.is_set() or submitted < 500:
            writer.submit(session, make_record(session_id=session, started_at=utc_now()))
            submitted += 1

    recording = threading.Thread(target=record)
    recording.start()
    try:
        result = store.prune(BASE_TIME, batch=100)
    finally:
        done.set()
        recording.join()
    assert writer.flush(timeout=60)
    writer.close()
    assert result.flow_count == 3_000
    assert (
        store.count_flows(session)
        == submitted
        == store._db.execute(
            "SELECT COUNT(*) FROM flows WHERE session_id = ?", (session,)
        ).fetchone()[0]
    )


def test_vacuum_gives_the_space_of_pruned_flows_back(store: Store, make_record) -> None:
    session = store.active_session().id
    store.add_flows(
        # Bytes no page compression shrinks (PostgreSQL's TOAST would squeeze zeros).
        make_record(session_id=session, started_at=BASE_TIME, response_body=os.urandom(20_000))
        for _ in range(300)
    )
    store.prune(BASE_TIME + timedelta(seconds=1))
    result = store.vacuum()
    assert result.size_after < result.size_before - 3_000_000


def test_an_older_sqlite_file_is_rewritten_once_then_freed_in_steps(
    tmp_path: Path, make_record: RecordFactory
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # a file made before incremental vacuum
        db.execute("CREATE TABLE placeholder (x)")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE placeholder")
    store = open_store(path)
    try:
        assert store._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        store.vacuum()
        assert store._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        session = store.active_session().id
        store.add_flows(
            make_record(session_id=session, started_at=BASE_TIME, response_body=bytes(9_000))
            for _ in range(200)
        )
        store.prune(BASE_TIME + timedelta(seconds=1))
        assert store._db.execute("PRAGMA freelist_count").fetchone()[0] > 0
        store.vacuum()
        assert store._db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        store.close()


def run_cli(store: Store, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(["--db", store.location, *args], out=out), out.getvalue()


def test_prune_and_vacuum_commands(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session()
    old_and_new(store, make_record, session.id, 4, 2)
    code, text = run_cli(store, "prune", "--before", "2026-03-08T14:30:22.123456Z", "--json")
    assert code == 0
    assert json.loads(text) == {
        "before": "2026-03-08T14:30:22.123456Z",
        "flows": 4,
        "sessions": {session.name: 4},
        "sessions_removed": [],
    }
    code, text = run_cli(store, "prune", "--keep-days", "0", "--session", session.name)
    assert code == 0 and text.startswith("pruned 2 flows from 1 session, started before ")
    assert "mitmtape vacuum" in text
    code, text = run_cli(store, "vacuum", "--json")
    assert code == 0 and set(json.loads(text)) == {"size_before", "size_after"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-days", "-1"], "--keep-days must be 0 to 36,500, not -1"),
        (["--keep-days", str(cli.MAX_KEEP_DAYS + 1)], "--keep-days must be 0 to 36,500"),
        (["--before", "last tuesday"], "--before 'last tuesday' is not a date or time"),
        (["--before", "2026-01-01", "--session", "nope"], "no session with id or name 'nope'"),
    ],
)
def test_prune_refuses_bad_arguments_in_one_sentence(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _ = run_cli(store, "prune", *args)
    assert code != 0
    assert message in capsys.readouterr().err


def test_keep_days_at_its_limit_is_taken(store: Store) -> None:
    code, text = run_cli(store, "prune", "--keep-days", str(cli.MAX_KEEP_DAYS))
    assert code == 0 and "pruned 0 flows from no session" in text
