"""The entry points: into a session, into a new session (removed on failure), cancel, streams."""

from __future__ import annotations

import io

import pytest

from mitmtape.importers import (
    IMPORTERS,
    ImportCancelled,
    ImportFailed,
    import_file,
    import_new_session,
)
from mitmtape.importers.pipeline import CANCEL_CHECK_EVERY, IMPORT_BATCH
from mitmtape.store import SessionNotFound


def test_registry_holds_har_json_and_mitm():
    assert sorted(IMPORTERS) == ["har", "json", "mitm"]


def test_new_session_is_named_after_the_file(store, har_file, entry):
    session, result = import_new_session(store, har_file([entry(), entry()], name="shop.har"))
    assert (session.name, session.description) == ("shop.har (imported)", "Imported from shop.har")
    assert (result.imported, session.flow_count) == (2, 2)
    assert not session.active


def test_same_file_imported_twice_gets_a_second_session(store, har_file, entry):
    path = har_file([entry()], name="shop.har")
    first, _ = import_new_session(store, path)
    second, _ = import_new_session(store, path)
    assert (first.name, second.name) == ("shop.har (imported)", "shop.har (imported 2)")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.har", ""),
        ("junk.json", "no json here"),
        ("wrong.json", '{"a": 1}'),
        ("notes.txt", "[]"),
    ],
)
def test_new_session_is_removed_when_the_file_is_refused(store, text_file, name, content):
    before = [s.name for s in store.list_sessions()]
    with pytest.raises(ImportFailed, match=name.replace(".", r"\.")):
        import_new_session(store, text_file(name, content))
    assert [s.name for s in store.list_sessions()] == before


def test_cancel_is_checked_every_100_flows(store, session_id, har_file, entry):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    path = har_file([entry() for _ in range(IMPORT_BATCH + 50)])
    with pytest.raises(ImportCancelled, match="import cancelled"):
        import_file(store, path, session_id, cancel=cancel)
    assert len(calls) == 3  # entries 0, 100 and 200
    assert CANCEL_CHECK_EVERY == 100
    assert store.count_flows(session_id) == 0  # no batch of 500 was complete yet


def test_cancelled_new_session_is_removed(store, har_file, entry):
    before = len(store.list_sessions())
    with pytest.raises(ImportCancelled):
        import_new_session(store, har_file([entry()]), cancel=lambda: True)
    assert len(store.list_sessions()) == before


def test_stream_with_a_name_is_imported(store, session_id, entry, records):
    payload = '{"log": {"entries": [' + ",".join([__import__("json").dumps(entry())] * 3) + "]}}"
    result = import_file(store, io.BytesIO(payload.encode()), session_id, name="up.har")
    assert result.imported == 3


def test_unknown_format_is_named(store, session_id, har_file, entry):
    with pytest.raises(ImportFailed, match="unknown import format 'xml'"):
        import_file(store, har_file([entry()]), session_id, format="xml")


def test_unknown_session_is_refused_before_reading(store, har_file, entry):
    with pytest.raises(SessionNotFound):
        import_file(store, har_file([entry()]), "no-such-session")


def test_missing_file_is_named(store, session_id, tmp_path):
    with pytest.raises(ImportFailed, match=r"gone\.har: cannot read the file"):
        import_file(store, tmp_path / "gone.har", session_id)


def test_result_as_json(store, session_id, har_file, entry):
    result = import_file(store, har_file([entry(), entry(request={"url": "x"})]), session_id)
    assert result.to_json() == {
        "imported": 1,
        "skipped": 1,
        "errors": ["entry 1: invalid URL 'x'"],
    }
