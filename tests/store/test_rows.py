"""The `record` column: only what no other column holds, as an array; older rows still read."""

from __future__ import annotations

import json

import pytest

from mitmtape.model import Body, FlowRecord
from mitmtape.store import Store, StoreError
from mitmtape.store.filters import FlowFilter
from mitmtape.store.rows import RECORD_LAYOUT, record_row, rows_of
from tests.conftest import RecordFactory


def stored_text(store: Store, flow_id: str) -> str:
    with store._lock:
        return store._db.execute("SELECT record FROM flows WHERE id = ?", (flow_id,)).fetchone()[0]


def test_the_record_column_repeats_no_column(store: Store, rich_record: FlowRecord) -> None:
    rich_record.session_id = store.active_session().id
    store.add_flows([rich_record])
    text = stored_text(store, rich_record.id)
    stored = json.loads(text)
    assert type(stored) is list and stored[0] == RECORD_LAYOUT
    for column_value in (rich_record.id, rich_record.session_id, rich_record.request.url):
        assert column_value not in text
    assert rich_record.error not in text and "slow" not in text  # error and tags have columns
    assert "host" not in stored[1:3]  # no key names: values only


def test_the_record_column_is_under_half_the_whole_object(
    store: Store, make_record: RecordFactory
) -> None:
    record = make_record(session_id=store.active_session().id)
    store.add_flows([record])
    whole = json.dumps(record.to_json(bodies=False), separators=(",", ":"))
    assert len(stored_text(store, record.id)) < len(whole) / 2


def test_method_and_host_keep_their_case_while_their_columns_filter(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    record = make_record(session_id=session, method="get", url="https://API.Example.com/x")
    record.request.host = "API.Example.com"
    store.add_flows([record])
    assert store.get_flow(record.id) == record
    page = store.page_flows(session, FlowFilter(method="GET", host="api.example.com"))
    assert [found.id for found in page.records] == [record.id]


def whole_object_row(record: FlowRecord) -> tuple:
    """The row an older mitmtape wrote: the record's whole JSON object, bodies left out (a body
    not kept stayed in it, with its reason and size)."""
    document = record.to_json(bodies=False)
    for part, message in (("request", record.request), ("response", record.response)):
        if message is not None and message.body.omitted is not None:
            document[part]["body"] = message.body.to_json()
    return (*record_row(record)[:15], json.dumps(document, ensure_ascii=False))


def test_rows_an_older_mitmtape_wrote_read_back_whole(
    store: Store, rich_record: FlowRecord, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    rich_record.session_id = session
    omitted = make_record(session_id=session, response_body=b"")
    omitted.response.body = Body(b"", 123_456, "too-large")
    records = [rich_record, omitted]
    _, bodies = rows_of(records)
    store.add_rows(([whole_object_row(record) for record in records], bodies))
    assert stored_text(store, rich_record.id).startswith("{")
    assert [store.get_flow(record.id) for record in records] == records
    [batch] = list(store.iter_flow_batches(session))
    assert batch == records


def test_a_row_of_a_newer_layout_is_refused_in_one_sentence(
    store: Store, make_record: RecordFactory
) -> None:
    record = make_record(session_id=store.active_session().id)
    row = record_row(record)
    store.add_rows(([(*row[:15], json.dumps([RECORD_LAYOUT + 1, "GET"]))], []))
    with pytest.raises(StoreError, match=f"flow {record.id} was stored by a newer mitmtape"):
        store.get_flow(record.id)
