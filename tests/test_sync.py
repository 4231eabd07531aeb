"""`mitmtape sync`: sessions copied between real databases with their flows, bodies and
artifacts, ids kept, nothing copied twice, a taken name answered with `{name} (2)`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import mitmtape.sync
from mitmtape.cli import main
from mitmtape.model import FlowRecord
from mitmtape.store import Store, open_store
from mitmtape.store.sqlite import BLOB_CHUNK_BYTES
from mitmtape.sync import SYNC_BATCH, SyncCancelled, sync_sessions
from tests.conftest import RecordFactory
from tests.postgres import fresh_database

NAME = "API Tests"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def sync_json(source: str, target: str, *sessions: str) -> dict:
    code, out = run("--db", source, "sync", *(sessions or ("--all",)), "--to", target, "--json")
    assert code == 0
    return json.loads(out)


def exported(db: str, session: str) -> list[dict]:
    """The session as `mitmtape export --format json` writes it (no artifact kept)."""
    args = ("--db", db, "export", session, "--format", "json", "-o", "-", "--artifacts-keep", "0")
    code, out = run(*args)
    assert code == 0
    return json.loads(out)


@pytest.fixture
def source(tmp_path: Path, make_record: RecordFactory, rich_record: FlowRecord) -> str:
    """A SQLite file with one session: every field used, a body past the blob chunk size, a flow
    without a response, and an artifact kept by a real export."""
    path = tmp_path / "laptop.db"
    store = Store(path)
    session = store.create_session(NAME, description="nightly run")
    rich_record.session_id = session.id
    store.add_flows(
        [
            rich_record,
            make_record(session_id=session.id, response_body=b"\x00" * (BLOB_CHUNK_BYTES + 7)),
            make_record(session_id=session.id, status=None, error="connection refused"),
        ]
    )
    store.close()
    code, _ = run("--db", str(path), "export", NAME, "--format", "har", "-o", str(tmp_path))
    assert code == 0
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def team(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where sessions are synced to: another SQLite file, or a fresh schema on the test
    PostgreSQL server (tests/postgres.py)."""
    if request.param == "sqlite":
        yield str(tmp_path / "team.db")
        return
    with fresh_database() as url:
        yield url


def session_json(db: str, ref: str) -> dict:
    """The session as listings show it, but for which one is active (each store has its own)."""
    store = open_store(db)
    try:
        return {k: v for k, v in store.get_session(ref).to_json().items() if k != "active"}
    finally:
        store.close()


def session_id_of(db: str, name: str = NAME) -> str:
    store = open_store(db)
    try:
        return store.get_session(name).id
    finally:
        store.close()


def test_a_round_trip_through_another_store_exports_identically(
    source: str, team: str, tmp_path: Path
) -> None:
    middle, back = team, str(tmp_path / "back.db")
    assert sync_json(source, middle, NAME)["flows"] == 3
    assert sync_json(middle, back, NAME)["flows"] == 3
    session_id = session_id_of(source)
    original = exported(source, session_id)
    assert original[0]["timings"]["wait"] == 9000
    assert original[0]["request"]["body"]["encoding"] == "base64"
    assert len(original[1]["response"]["body"]["data"]) > BLOB_CHUNK_BYTES
    assert exported(middle, session_id) == original
    assert exported(back, session_id) == original
    assert session_json(back, session_id) == session_json(source, session_id)


def test_a_second_sync_copies_nothing(source: str, team: str) -> None:
    target = team
    first = sync_json(source, target, NAME)
    assert (first["sessions"], first["flows"], first["skipped"]) == (1, 3, 0)
    again = sync_json(source, target, NAME)
    assert (again["sessions"], again["flows"], again["skipped"]) == (1, 0, 3)
    assert again["artifacts"] == 0
    assert len(exported(target, NAME)) == 3


def test_a_session_synced_again_gets_only_its_new_flows(
    source: str, team: str, make_record: RecordFactory
) -> None:
    target = team
    sync_json(source, target, NAME)
    store = Store(source)
    session = store.get_session(NAME)
    store.add_flows([make_record(session_id=session.id, url="https://a.test/later")])
    store.close()
    result = sync_json(source, target, session.id)
    assert (result["flows"], result["skipped"]) == (1, 3)
    assert exported(target, NAME) == exported(source, NAME)


def test_a_name_taken_by_another_session_arrives_numbered(source: str, team: str) -> None:
    target = team
    store = open_store(target)
    store.create_session(NAME)
    store.create_session(f"{NAME} (2)")
    store.close()
    code, out = run("--db", source, "sync", NAME, "--to", target)
    assert code == 0
    session_id = session_id_of(source)
    assert out == (
        f"synced {NAME!r} ({session_id}): 3 flows copied, 0 already there, 1 artifact copied, "
        f"arrived as '{NAME} (3)'\n"
    )
    assert session_id_of(target, f"{NAME} (3)") == session_id
    result = sync_json(source, target, NAME)
    assert result["renamed"] == [{"id": session_id, "name": NAME, "arrived_as": f"{NAME} (3)"}]
    assert (result["flows"], result["skipped"]) == (0, 3)


def test_artifacts_arrive_with_their_ids_and_bytes(source: str, team: str) -> None:
    sync_json(source, team, NAME)
    before, after = Store(source), open_store(team)
    try:
        [listed] = before.list_artifacts(session_id=before.get_session(NAME).id)
        original, copy = before.get_artifact(listed.id), after.get_artifact(listed.id)
    finally:
        before.close()
        after.close()
    assert copy.to_json() == original.to_json()
    assert copy.content == original.content
    assert original.content and original.content.startswith(b"{")


def test_all_copies_every_session(source: str, team: str) -> None:
    target = team
    store = Store(source)
    expected = {session.id for session in store.list_sessions()}  # the default one too
    store.close()
    assert sync_json(source, target)["sessions"] == len(expected) == 2
    copy = open_store(target)
    assert expected <= {session.id for session in copy.list_sessions()}
    copy.close()


def test_the_source_database_as_target_is_refused(source: str, capsys) -> None:
    spelled_otherwise = str(Path(source).parent / "." / Path(source).name)
    code, _ = run("--db", source, "sync", NAME, "--to", spelled_otherwise)
    assert code == 1
    assert capsys.readouterr().err == (
        f"mitmtape: {spelled_otherwise} is the database being synced from; name another\n"
    )


def test_an_unknown_session_copies_nothing(source: str, tmp_path: Path, capsys) -> None:
    target = str(tmp_path / "team.db")
    code, _ = run("--db", source, "sync", NAME, "no such session", "--to", target)
    assert code == 1
    assert capsys.readouterr().err == "mitmtape: no session with id or name 'no such session'\n"
    store = Store(target)
    assert store.find_session(NAME) is None
    store.close()


@pytest.mark.parametrize("chosen", [(), (NAME, "--all")])
def test_sessions_and_all_are_one_or_the_other(source: str, tmp_path, capsys, chosen) -> None:
    code, _ = run("--db", source, "sync", *chosen, "--to", str(tmp_path / "team.db"))
    assert code == 1
    assert capsys.readouterr().err == "mitmtape: sync needs SESSION... or --all, not both\n"


def test_flows_go_in_batches_of_sync_batch(tmp_path: Path, make_record: RecordFactory) -> None:
    source, target = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    session = source.active_session()
    source.add_flows(make_record(session_id=session.id) for _ in range(SYNC_BATCH + 1))
    batches: list[int] = []
    write = target.add_new_flows

    def counted(records: list[FlowRecord]) -> int:
        batches.append(len(records))
        return write(records)

    target.add_new_flows = counted  # type: ignore[method-assign]
    steps: list[tuple[int, int]] = []
    result = sync_sessions(source, target, [session.id], lambda *step: steps.append(step))
    assert batches == [SYNC_BATCH, 1]
    assert steps == [(SYNC_BATCH, SYNC_BATCH + 1), (SYNC_BATCH + 1, SYNC_BATCH + 1)]
    assert result.to_json()["flows"] == target.count_flows(session.id) == SYNC_BATCH + 1
    source.close()
    target.close()


def test_a_cancelled_sync_keeps_its_batches_and_a_rerun_finishes(
    tmp_path: Path, make_record: RecordFactory, monkeypatch
) -> None:
    monkeypatch.setattr(mitmtape.sync, "SYNC_BATCH", 2)
    source, target = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    session = source.active_session()
    source.add_flows(make_record(session_id=session.id) for _ in range(5))
    checks = iter([False, True])
    with pytest.raises(SyncCancelled) as cancelled:
        sync_sessions(source, target, [session.id], cancel=lambda: next(checks))
    assert str(cancelled.value) == (
        "sync interrupted; 2 flows copied before were kept (run it again to copy the rest)"
    )
    assert target.count_flows(session.id) == 2
    result = sync_sessions(source, target, [session.id]).to_json()
    assert (result["flows"], result["skipped"]) == (3, 2)
    source.close()
    target.close()
