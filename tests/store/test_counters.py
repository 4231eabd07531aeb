"""Session counters stay equal to a full COUNT/SUM through any mix of writes, imports, copies,
prunes and deletes, on every engine."""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest

from mitmtape.importers import import_file
from mitmtape.model import Session, format_time
from mitmtape.store import Store, open_store
from mitmtape.sync import sync_sessions
from tests.conftest import BASE_TIME, RecordFactory


def recounted(store: Store) -> dict[str, tuple]:
    """Every session's counters as a full scan of its flows computes them."""
    rows = store._db.execute(
        "SELECT s.id, COUNT(f.id), COALESCE(SUM(f.request_size + f.response_size), 0), "
        "MIN(f.started_at), MAX(f.started_at) "
        "FROM sessions s LEFT JOIN flows f ON f.session_id = s.id GROUP BY s.id"
    ).fetchall()
    return {row[0]: (row[1], int(row[2]), row[3], row[4]) for row in rows}


def kept(store: Store) -> dict[str, tuple]:
    def stamp(moment) -> str | None:
        return None if moment is None else format_time(moment)

    return {
        s.id: (s.flow_count, s.total_size, stamp(s.first_flow_at), stamp(s.last_flow_at))
        for s in store.list_sessions()
    }


def har_of(count: int, start_seconds: int) -> bytes:
    entries = [
        {
            "startedDateTime": (BASE_TIME + timedelta(seconds=start_seconds + n)).isoformat(),
            "time": 1,
            "request": {
                "method": "GET",
                "url": f"https://import.test/{n}",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 200,
                "statusText": "OK",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "cookies": [],
                "content": {"size": n, "mimeType": "text/plain", "text": "x" * n},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": n,
            },
            "cache": {},
            "timings": {"send": 0, "wait": 1, "receive": 0},
        }
        for n in range(count)
    ]
    return json.dumps({"log": {"version": "1.2", "creator": {}, "entries": entries}}).encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_keep_the_counters_equal_to_a_full_count(
    store: Store, make_record: RecordFactory, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    other = open_store(tmp_path / "other.db")
    sessions: list[Session] = [store.active_session()]
    try:
        for step in range(40):
            action = rng.choice(["write", "write", "import", "sync", "prune", "delete", "new"])
            session = rng.choice(sessions)
            if action == "write":
                at = BASE_TIME + timedelta(seconds=rng.randrange(0, 3_600))
                store.add_flows(
                    make_record(
                        session_id=session.id,
                        started_at=at + timedelta(milliseconds=n),
                        response_body=b"z" * rng.randrange(0, 50),
                    )
                    for n in range(rng.randrange(1, 30))
                )
            elif action == "import":
                har = har_of(rng.randrange(1, 20), rng.randrange(0, 3_600))
                import_file(store, io.BytesIO(har), session.id, name=f"step{step}.har")
            elif action == "sync":
                # Flows copied in from another store, then copied again (nothing twice).
                source = other.get_or_create_session(f"from elsewhere {rng.randrange(3)}")
                other.add_flows(
                    make_record(session_id=source.id, started_at=BASE_TIME + timedelta(hours=n))
                    for n in range(rng.randrange(1, 10))
                )
                sync_sessions(other, store, [source.id])
                sync_sessions(other, store, [source.id])
                sessions = store.list_sessions()
            elif action == "prune":
                cutoff = BASE_TIME + timedelta(seconds=rng.randrange(0, 3_600))
                scope = rng.choice([None, session.id])
                store.prune(cutoff, scope, empty_sessions=rng.random() < 0.3, batch=7)
                sessions = store.list_sessions()
            elif action == "delete" and len(sessions) > 1:
                store.delete_session(session.id)
                sessions = store.list_sessions()
            elif action == "new":
                sessions.append(store.create_session(f"session {step}"))
            assert kept(store) == recounted(store), f"after step {step}: {action}"
    finally:
        other.close()
    assert sum(s.flow_count for s in store.list_sessions()) > 0


EARLY = "2026-01-01T00:00:00.000000Z"


def test_an_older_database_gets_its_counters_from_its_flows(tmp_path: Path) -> None:
    import sqlite3

    from mitmtape.store.sqlite import SqliteEngine
    from tests.store.schemas import build_schema

    path = tmp_path / "tape.db"
    with sqlite3.connect(path) as db:
        build_schema(db.execute, SqliteEngine.ddl, 2)
        db.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, active) "
            "VALUES ('S1', 'old', ?, ?, 1)",
            (EARLY, EARLY),
        )
        for n, size in enumerate([10, 20, 30]):
            db.execute(
                "INSERT INTO flows VALUES (?, 'S1', ?, 1, 'proxy', 'GET', 'u', 'h', '/', 200, "
                "?, 5, '', '[]', NULL, '{}')",
                (f"F{n}", f"2026-01-0{n + 1}T00:00:00.000000Z", size),
            )
    store = open_store(path)
    try:
        assert kept(store)["S1"] == (
            3,
            75,
            "2026-01-01T00:00:00.000000Z",
            "2026-01-03T00:00:00.000000Z",
        )
    finally:
        store.close()
