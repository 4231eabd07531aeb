"""An import's row writer: a real child process writing batches into the same database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mitmtape.importers.rowwriter import RowWriter
from mitmtape.store import Store, StoreError
from mitmtape.store.rows import rows_of
from tests.conftest import RecordFactory

# Long enough for a child to start on a busy machine; a ready child answers at once.
START_WAIT_S = 60.0


@pytest.fixture
def writer(store: Store) -> Iterator[RowWriter]:
    child = RowWriter(store.location)
    assert child.ready(START_WAIT_S)
    yield child
    child.close()


def test_batches_written_by_the_child_read_back_whole(
    store: Store, writer: RowWriter, rich_record, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    rich_record.session_id = session
    first = [rich_record, *(make_record(session_id=session) for _ in range(3))]
    second = [make_record(session_id=session, request_body=b"\x00\\\t" * 9) for _ in range(2)]
    writer.send(rows_of(first))
    assert writer.wait() == 4
    writer.send(rows_of(second))
    assert writer.wait() == 2
    assert writer.wait() == 0  # nothing in flight
    for record in [*first, *second]:
        assert store.get_flow(record.id) == record
    assert store.get_session(session).flow_count == 6


def test_rows_of_a_session_deleted_meanwhile_are_dropped(
    store: Store, writer: RowWriter, make_record: RecordFactory
) -> None:
    gone = store.create_session("gone")
    kept = store.active_session().id
    batch = [make_record(session_id=gone.id), make_record(session_id=kept)]
    store.delete_session(gone.id)
    writer.send(rows_of(batch))
    assert writer.wait() == 1
    assert store.count_flows(kept) == 1


def test_rows_the_store_refuses_end_in_one_sentence_and_nothing_of_the_batch(
    store: Store, writer: RowWriter, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    record = make_record(session_id=session)
    store.add_flows([record])
    writer.send(rows_of([make_record(session_id=session), record]))  # the second one again
    with pytest.raises(StoreError, match=r"^could not write 2 flows: ") as caught:
        writer.wait()
    assert "\n" not in str(caught.value)
    assert store.count_flows(session) == 1


def test_a_child_that_goes_away_is_a_store_error(
    store: Store, writer: RowWriter, make_record: RecordFactory
) -> None:
    writer._child.kill()
    writer._child.wait()
    session = store.active_session().id
    with pytest.raises(StoreError, match="writer process ended before the import did"):
        writer.send(rows_of([make_record(session_id=session, response_body=b"x" * 2**20)]))
        writer.wait()


def test_a_child_that_cannot_open_the_database_is_never_ready(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    child = RowWriter(str(not_a_folder / "tape.db"))
    try:
        assert not child.ready(START_WAIT_S)
        assert not child.ready()  # and it stays so, without waiting again
    finally:
        child.close()
