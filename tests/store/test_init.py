from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mitmtape.model import Body, FlowRecord, format_time, new_id
from mitmtape.store import (
    SCHEMA_VERSION,
    Artifact,
    FlowFilter,
    FlowNotFound,
    SessionNotFound,
    Store,
    StoreError,
)
from mitmtape.store.sqlite import BLOB_CHUNK_BYTES
from tests.conftest import RecordFactory


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store, for tests that look inside the file (tests/store/test_postgres.py
    looks inside a server)."""
    opened = Store(tmp_path / "tape.db")
    yield opened
    opened.close()


def test_fresh_database_has_one_active_session_and_wal(sqlite_store: Store) -> None:
    store = sqlite_store
    sessions = store.list_sessions()
    assert len(sessions) == 1 and sessions[0].active
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "tape.db"
    Store(path).close()
    assert path.is_file()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "tape.db"
    garbage = b"this is not a database" * 500
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not a usable mitmtape database"):
        Store(path)
    assert path.read_bytes() == garbage


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(StoreError, match="another program"):
        Store(path)


def test_folder_as_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tape.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match="upgrade mitmtape"):
        Store(path)


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path, make_record) -> None:
    path = tmp_path / "tape.db"
    first = Store(path)
    session = first.active_session()
    first.add_flows([make_record(session_id=session.id)])
    first.close()
    again = Store(path)
    assert again.count_flows(session.id) == 1
    assert [s.id for s in again.list_sessions()] == [session.id]
    again.close()


def test_session_lifecycle(store: Store) -> None:
    first = store.active_session()
    created = store.create_session("API Tests", "smoke run")
    assert not created.active and created.description == "smoke run"
    assert store.get_session("API Tests").id == created.id
    assert store.get_session(created.id).name == "API Tests"
    store.set_active("API Tests")
    assert store.active_session().id == created.id
    assert sum(s.active for s in store.list_sessions()) == 1
    renamed = store.rename_session(created.id, "Renamed")
    assert renamed.name == "Renamed"
    store.delete_session("Renamed")
    assert store.active_session().id == first.id


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_session_name_is_refused(store: Store, name: str) -> None:
    with pytest.raises(StoreError, match="cannot be empty"):
        store.create_session(name)


def test_duplicate_session_name_is_refused(store: Store) -> None:
    store.create_session("twice")
    with pytest.raises(StoreError, match="already exists"):
        store.create_session("twice")
    other = store.create_session("other")
    with pytest.raises(StoreError, match="already exists"):
        store.rename_session(other.id, "twice")


def test_unknown_session_is_named_in_the_error(store: Store) -> None:
    with pytest.raises(SessionNotFound, match="'nope'"):
        store.get_session("nope")
    with pytest.raises(FlowNotFound, match="'missing'"):
        store.get_flow("missing")


def test_deleting_the_last_session_makes_a_new_active_one(store: Store) -> None:
    only = store.active_session()
    store.delete_session(only.id)
    sessions = store.list_sessions()
    assert len(sessions) == 1 and sessions[0].active and sessions[0].id != only.id


def test_delete_removes_flows_and_bodies(sqlite_store: Store, make_record: RecordFactory) -> None:
    store = sqlite_store
    session = store.create_session("doomed")
    keep = store.active_session()
    store.add_flows(
        [
            make_record(session_id=session.id, request_body=b"x" * 10),
            make_record(session_id=keep.id, request_body=b"y"),
        ]
    )
    store.delete_session(session.id)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM flows").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 2


def test_records_round_trip_through_the_store(store: Store, rich_record: FlowRecord) -> None:
    rich_record.session_id = store.active_session().id
    store.add_flows([rich_record])
    assert store.get_flow(rich_record.id) == rich_record
    [batch] = list(store.iter_flow_batches(rich_record.session_id))
    assert batch == [rich_record]


def test_reads_without_bodies_keep_sizes(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    store.add_flows([make_record(session_id=session, request_body=b"abc", response_body=b"12345")])
    [[record]] = list(store.iter_flow_batches(session, with_bodies=False))
    assert record.request.body.data == b"" and record.request_size == 3
    assert record.response_size == 5


def test_records_of_a_deleted_session_are_dropped(store: Store, make_record) -> None:
    assert store.add_flows([make_record(session_id="01HNOTASESSION0000000000")]) == 0


def test_counts_and_sizes_per_session(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    store.add_flows(
        [make_record(session_id=session, request_body=b"ab", response_body=b"xyz")] * 1
        + [make_record(session_id=session, status=None, request_body=b"1234")]
    )
    listed = store.get_session(session)
    assert (listed.flow_count, listed.total_size) == (2, 2 + 3 + 4)


@pytest.mark.parametrize("total", [4_999, 5_000, 5_001])
def test_batches_cover_every_flow_once_in_order(store: Store, make_record, total: int) -> None:
    session = store.active_session().id
    records = [make_record(session_id=session, response_body=b"") for _ in range(total)]
    store.add_flows(reversed(records))
    batches = list(store.iter_flow_batches(session, batch_size=5_000, with_bodies=False))
    assert [len(b) for b in batches] == [5_000, total - 5_000] if total > 5_000 else [total]
    assert [r.id for b in batches for r in b] == [r.id for r in records]


def test_batches_break_time_ties_by_id(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    same = make_record().started_at
    records = [make_record(session_id=session, started_at=same) for _ in range(7)]
    store.add_flows(records)
    ids = [r.id for b in store.iter_flow_batches(session, batch_size=3) for r in b]
    assert ids == sorted(r.id for r in records)


def test_simple_filters_run_together(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    store.add_flows(
        [
            make_record(
                session_id=session, method="GET", url="https://a.test/api/orders", status=200
            ),
            make_record(
                session_id=session, method="POST", url="https://a.test/api/orders", status=201
            ),
            make_record(
                session_id=session, method="POST", url="https://a.test/api/orders", status=500
            ),
            make_record(
                session_id=session, method="POST", url="https://b.test/api/pay", status=404
            ),
            make_record(session_id=session, method="POST", url="https://a.test/login", status=None),
        ]
    )

    def urls(**kwargs: object) -> list[tuple[str, int]]:
        flows = store.iter_flow_batches(session, FlowFilter(**kwargs), with_bodies=False)
        return [(r.request.method, r.status) for b in flows for r in b]

    assert urls(method="post", url="/api/orders") == [("POST", 201), ("POST", 500)]
    assert urls(status_min=400) == [("POST", 500), ("POST", 404)]
    assert urls(status_min=200, status_max=299) == [("GET", 200), ("POST", 201)]
    assert urls(host="B.TEST") == [("POST", 404)]
    assert urls(status_max=0) == [("POST", 0)]
    assert store.count_flows(session, FlowFilter(method="POST", status_min=400)) == 2


def test_list_flows_pages_in_order_without_bodies(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    records = [make_record(session_id=session, response_body=b"abc") for _ in range(7)]
    store.add_flows(reversed(records))
    page = store.list_flows(session, limit=3, offset=2)
    assert [r.id for r in page] == [r.id for r in records[2:5]]
    assert all(r.response_size == 3 and r.response.body.data == b"" for r in page)
    assert store.list_flows(session, FlowFilter(method="POST")) == []
    assert store.list_flows(session, offset=7) == []


def test_sessions_know_their_first_and_last_flow(store: Store, make_record: RecordFactory):
    session = store.create_session("timed")
    assert store.get_session(session.id).first_flow_at is None
    records = [make_record(session_id=session.id) for _ in range(3)]
    store.add_flows(reversed(records))
    listed = store.get_session(session.id)
    assert (listed.first_flow_at, listed.last_flow_at) == (
        records[0].started_at,
        records[-1].started_at,
    )
    assert listed.to_json()["first_flow_at"].endswith("Z")


def test_omitted_bodies_keep_reason_and_size_in_listings_and_reads(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    record = make_record(session_id=session)
    record.request.body = Body(b"", 1_234, "too-large")
    assert record.response is not None
    record.response.body = Body(b"", 200_000_000, "streamed")
    store.add_flows([record])
    [listed] = store.list_flows(session)
    [[unread]] = store.iter_flow_batches(session, with_bodies=False)
    [[read]] = store.iter_flow_batches(session)
    for found in (listed, unread, read, store.get_flow(record.id)):
        assert found.response is not None
        assert (found.request.body.omitted, found.request.body.size) == ("too-large", 1_234)
        assert (found.response.body.omitted, found.response.body.size) == ("streamed", 200_000_000)
        assert found.response.body.data == b""
    assert store.get_session(session).total_size == 200_001_234


@pytest.mark.parametrize("extra", [0, 1, BLOB_CHUNK_BYTES + 7])
def test_a_body_past_the_blob_chunk_size_is_written_whole(
    sqlite_store: Store, make_record: RecordFactory, extra: int
) -> None:
    """At the chunk size a body is bound as usual; past it, written by incremental blob I/O."""
    store = sqlite_store
    session = store.active_session().id
    data = bytes(range(256)) * ((BLOB_CHUNK_BYTES + extra) // 256) + b"!" * (extra % 256)
    record = make_record(session_id=session, response_body=data, request_body=data[::-1])
    store.add_flows([record])
    found = store.get_flow(record.id)
    assert found.response is not None and found.response.body.data == data
    assert found.request.body.data == data[::-1]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def kept(session_id: str | None, minute: int, type: str = "session_export") -> Artifact:
    """An artifact made `minute` minutes after a fixed moment (so their order is known)."""
    return Artifact(
        id=new_id(),
        type=type,
        session_id=session_id,
        title=f"export {minute}",
        summary="",
        file_name="x.json",
        media_type="application/json",
        size=2,
        metadata={},
        created_at=format_time(datetime(2026, 3, 8, 14, minute, tzinfo=UTC)),
        content=b"[]",
    )


def test_keeping_n_artifacts_drops_the_oldest_of_that_session_and_type(store: Store) -> None:
    session = store.active_session().id
    other = store.create_session("other").id
    untouched = [
        store.add_artifact(kept(other, 0)),
        store.add_artifact(kept(session, 0, type="report")),
    ]
    first = [store.add_artifact(kept(session, minute), keep=3) for minute in range(1, 4)]
    assert {a.id for a in store.list_artifacts("session_export", session)} == {a.id for a in first}
    newest = store.add_artifact(kept(session, 4), keep=3)
    listed = store.list_artifacts("session_export", session)
    assert [a.id for a in listed] == [newest.id, first[2].id, first[1].id]
    assert {a.id for a in store.list_artifacts()} >= {a.id for a in untouched}


def test_artifacts_of_no_session_are_pruned_as_one_group(store: Store) -> None:
    session = store.active_session().id
    mine = store.add_artifact(kept(session, 0))
    selections = [store.add_artifact(kept(None, minute), keep=1) for minute in range(1, 3)]
    assert {a.id for a in store.list_artifacts()} == {mine.id, selections[-1].id}


def test_pruning_to_zero_deletes_all_and_a_negative_count_is_refused(store: Store) -> None:
    session = store.active_session().id
    for minute in range(3):
        store.add_artifact(kept(session, minute))
    with pytest.raises(StoreError, match="0 or more, not -1"):
        store.prune_artifacts("session_export", session, -1)
    with pytest.raises(StoreError, match="0 or more"):
        store.add_artifact(kept(session, 9), keep=-1)
    assert len(store.list_artifacts()) == 3  # the refused insert was rolled back
    assert store.prune_artifacts("session_export", session, 0) == 3
    assert store.list_artifacts() == []
