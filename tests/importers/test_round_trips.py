"""Export → import → export keeps the records (JSON) and the entries (HAR)."""

from __future__ import annotations

import json
from pathlib import Path

from mitmtape.export.pipeline import export_session
from mitmtape.importers import import_new_session
from mitmtape.model import FlowRecord
from mitmtape.store import Store
from tests.conftest import RecordFactory

RENEWED = ("id", "session_id", "source")


def varied(make_record: RecordFactory, rich_record: FlowRecord, session_id: str) -> list:
    rich_record.session_id = session_id
    return [
        rich_record,
        make_record(session_id=session_id, method="POST", url="https://a.test/form?x=1",
                    request_body=b"a=1&b=%C3%A9",
                    request_headers=[("content-type", "application/x-www-form-urlencoded")]),
        make_record(session_id=session_id, status=None, error="connection refused"),
        make_record(session_id=session_id, response_body=b"\x89PNG\r\n\x1a\n\x00",
                    response_headers=[("content-type", "image/png")]),
    ]  # fmt: skip


def test_json_export_import_export_gives_the_same_records(
    store: Store, make_record: RecordFactory, rich_record: FlowRecord, tmp_path: Path
) -> None:
    session = store.create_session("original")
    store.add_flows(varied(make_record, rich_record, session.id))
    first = export_session(store, session.id, "json", tmp_path / "first.json")
    imported, result = import_new_session(store, first.path)
    assert result.imported == 4 and result.skipped == 0
    second = export_session(store, imported.id, "json", tmp_path / "second.json")

    def comparable(path: Path) -> list[dict]:
        flows = json.loads(path.read_text())
        for flow in flows:
            for key in RENEWED:
                flow.pop(key)
            flow["metadata"].pop("import_source", None)
        return flows

    assert comparable(first.path) == comparable(second.path)


def test_har_export_import_export_gives_the_same_entries(
    store: Store, make_record: RecordFactory, rich_record: FlowRecord, tmp_path: Path
) -> None:
    session = store.create_session("original")
    store.add_flows(varied(make_record, rich_record, session.id))
    first = export_session(store, session.id, "har", tmp_path / "first.har")
    imported, result = import_new_session(store, first.path)
    assert result.imported == 4
    second = export_session(store, imported.id, "har", tmp_path / "second.har")

    def entries(path: Path) -> list[dict]:
        found = json.loads(path.read_text())["log"]["entries"]
        for entry in found:
            entry.pop("timings")
            entry.pop("time")
            entry.pop("connection", None)
            entry.pop("_id", None)
        return found

    assert entries(first.path) == entries(second.path)
