"""The import loop with its writer child: batches written beside the parsing, in order, and
whole batches kept however the import ends."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

import mitmtape.importers.pipeline as pipeline
from mitmtape.importers import ImportCancelled, ImportFailed, import_file
from mitmtape.importers.rowwriter import RowWriter, WriterLost
from mitmtape.model import FlowRecord
from mitmtape.store import Store

BATCH = 20
ENTRIES = 3 * BATCH + 10


class CountingWriter(RowWriter):
    """The real child, with the batches handed to it counted."""

    sent: ClassVar[list[int]] = []

    def send(self, batch) -> None:
        CountingWriter.sent.append(len(batch[0]))
        super().send(batch)


@pytest.fixture
def with_child(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small batches, and a child waited for, so every batch goes through it."""
    monkeypatch.setattr(pipeline, "IMPORT_BATCH", BATCH)
    monkeypatch.setattr(pipeline, "WRITER_READY_WAIT_S", 60.0)
    monkeypatch.setattr(pipeline, "RowWriter", CountingWriter)
    CountingWriter.sent = []
    return CountingWriter.sent


def entries(entry) -> list[dict]:
    """Entries told apart by URL, body and start time (so both imports list them alike)."""
    made = []
    for n in range(ENTRIES):
        one = entry(startedDateTime=f"2026-03-08T14:{n // 60:02d}:{n % 60:02d}.123Z")
        one["request"]["url"] = f"https://api.example.com/items/{n}"
        one["response"]["content"]["text"] = f'{{"n": {n}}}'
        made.append(one)
    return made


def comparable(records: list[FlowRecord]) -> list[dict]:
    """What an import made of each entry, without what every import makes anew."""
    documents = [record.to_json() for record in records]
    for document in documents:
        document.pop("id"), document.pop("session_id")
    return documents


def test_batches_go_through_the_child_in_order_and_store_what_one_process_would(
    store: Store, har_file, entry, records, with_child: list[int], monkeypatch
) -> None:
    path = har_file(entries(entry))
    heard: list[list[str]] = []
    through_child = store.create_session("through the child").id
    result = import_file(
        store, path, through_child, on_written=lambda batch: heard.append([r.id for r in batch])
    )
    assert result.imported == ENTRIES
    assert with_child == [BATCH, BATCH, BATCH, 10]
    stored = records(through_child)
    assert [flow_id for batch in heard for flow_id in batch] == [r.id for r in stored]
    assert store.get_session(through_child).flow_count == ENTRIES

    monkeypatch.setattr(pipeline, "WRITER_READY_WAIT_S", 0.0)
    monkeypatch.setattr(CountingWriter, "ready", lambda self, timeout=0.0: False)
    here = store.create_session("in one process").id
    assert import_file(store, path, here).imported == ENTRIES
    assert with_child == [BATCH, BATCH, BATCH, 10]  # nothing more went to a child
    assert comparable(stored) == comparable(records(here))


def test_a_file_broken_after_batches_in_the_child_keeps_them_all(
    store: Store, session_id, entry, text_file, with_child: list[int]
) -> None:
    text = json.dumps({"log": {"entries": entries(entry)}})
    path = text_file("cut.har", text[: len(text) - 30])
    with pytest.raises(ImportFailed, match="truncated") as caught:
        import_file(store, path, session_id)
    assert caught.value.kept == 3 * BATCH == store.count_flows(session_id)
    assert with_child == [BATCH] * 3


def test_a_cancel_while_the_child_holds_a_batch_counts_it_kept(
    store: Store, session_id, har_file, entry, with_child: list[int], monkeypatch
) -> None:
    asked = []

    def cancel() -> bool:  # asked every 100 entries: the third time, two batches were sent
        asked.append(1)
        return len(asked) == 3

    monkeypatch.setattr(pipeline, "IMPORT_BATCH", 100)
    path = har_file([entry() for _ in range(250)])
    with pytest.raises(ImportCancelled) as caught:
        import_file(store, path, session_id, cancel=cancel)
    assert with_child == [100, 100]
    assert caught.value.kept == 200 == store.count_flows(session_id)


def test_a_child_gone_mid_import_leaves_the_import_to_finish_here_once_each(
    store: Store, session_id, har_file, entry, records, with_child: list[int], monkeypatch
) -> None:
    children: list[RowWriter] = []
    original_init = CountingWriter.__init__

    def remembered(self, location: str) -> None:
        original_init(self, location)
        children.append(self)

    monkeypatch.setattr(CountingWriter, "__init__", remembered)
    heard: list[int] = []

    def kill_child(batch: list[FlowRecord]) -> None:
        heard.append(len(batch))
        if len(heard) == 1:  # killed once the first batch is heard: the next send finds it gone
            children[0]._child.kill()
            children[0]._child.wait()

    result = import_file(store, har_file(entries(entry)), session_id, on_written=kill_child)
    assert (result.imported, len(children)) == (ENTRIES, 1)
    assert heard == [BATCH, BATCH, BATCH, 10]
    urls = [record.request.url for record in records(session_id)]
    assert sorted(urls) == sorted({f"https://api.example.com/items/{n}" for n in range(ENTRIES)})


def test_a_child_killed_after_it_committed_is_not_written_twice(
    store: Store, session_id, har_file, entry, records, with_child: list[int], monkeypatch
) -> None:
    def reply_lost(self) -> int:  # the batch went in, the answer never came back
        RowWriter.wait(self)
        raise WriterLost("gone")

    monkeypatch.setattr(CountingWriter, "wait", reply_lost)
    result = import_file(store, har_file(entries(entry)), session_id)
    assert result.imported == ENTRIES == len(records(session_id))
    assert with_child == [BATCH]  # the rest was written here


def test_by_default_the_first_batch_is_written_here_and_never_waits(
    store: Store, session_id, har_file, entry, with_child: list[int], monkeypatch
) -> None:
    monkeypatch.setattr(pipeline, "WRITER_READY_WAIT_S", 0.0)
    result = import_file(store, har_file(entries(entry)), session_id)
    assert result.imported == ENTRIES == store.count_flows(session_id)
    assert sum(with_child) < ENTRIES  # a child just started is not ready for the first


def test_a_child_that_cannot_open_the_database_leaves_the_import_here(
    store: Store, session_id, har_file, entry, tmp_path, with_child: list[int], monkeypatch
) -> None:
    (tmp_path / "file").write_text("")
    unusable = str(tmp_path / "file" / "tape.db")
    monkeypatch.setattr(pipeline, "RowWriter", lambda location: CountingWriter(unusable))
    result = import_file(store, har_file(entries(entry)), session_id)
    assert result.imported == ENTRIES == store.count_flows(session_id)
    assert with_child == []


def test_no_child_process_to_be_had_leaves_the_import_here(
    store: Store, session_id, har_file, entry, with_child: list[int], monkeypatch
) -> None:
    def refused(location: str) -> RowWriter:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(pipeline, "RowWriter", refused)
    result = import_file(store, har_file(entries(entry)), session_id)
    assert result.imported == ENTRIES == store.count_flows(session_id)
