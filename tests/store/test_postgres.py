"""The PostgreSQL engine against the real test server: URLs and their errors, the schema's
types, migrations under the advisory lock, race-free sessions, reconnecting, server-side reads.

(The behaviour both engines share is tested once, on both, through the `store` fixture.)
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mitmtape import cli
from mitmtape.store import FlowFilter, Store, StoreError, StoreUnavailable, open_store
from mitmtape.store import postgres as engine
from mitmtape.store.schema import SCHEMA_VERSION
from mitmtape.store.sqlite import SqliteEngine
from tests.conftest import RecordFactory
from tests.postgres import PASSWORD_URL_ENV, fresh_database, server_url, with_schema
from tests.store.schemas import build_schema

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as fresh:
        yield fresh


@pytest.fixture
def pg(url: str) -> Iterator[Store]:
    opened = open_store(url)
    yield opened
    opened.close()


def admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def test_a_url_opens_the_postgresql_engine_and_shows_no_password(url: str) -> None:
    password_url = with_schema(server_url(PASSWORD_URL_ENV), url.rsplit("search_path%3D", 1)[1])
    store = open_store(password_url)
    try:
        assert store.engine.name == "postgresql" and store.path is None
        assert store.location == password_url
        assert ":***@" in store.shown and "tape-test-password" not in store.shown
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()


def test_the_postgres_scheme_and_libpq_environment_fill_the_url(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postgres://` with no host, port or user: PGHOST, PGPORT and PGUSER say them."""
    server = psycopg.conninfo.conninfo_to_dict(server_url())
    monkeypatch.setenv("PGHOST", str(server["host"]))
    monkeypatch.setenv("PGPORT", str(server["port"]))
    monkeypatch.setenv("PGUSER", str(server["user"]))
    query = url.split("?", 1)[1]
    store = open_store(f"postgres:///{server['dbname']}?{query}")
    try:
        assert len(store.list_sessions()) == 1
    finally:
        store.close()


def test_the_password_is_masked_in_the_authority_and_in_parameters() -> None:
    assert engine.masked("postgresql://ann:s3cret@db.example:5432/tape?sslmode=require") == (
        "postgresql://ann:***@db.example:5432/tape?sslmode=require"
    )
    shown = engine.masked("postgresql://db.example/tape?password=s3cret&connect_timeout=3")
    assert "s3cret" not in shown and "connect_timeout=3" in shown


def test_an_unknown_scheme_is_refused_in_one_line() -> None:
    with pytest.raises(StoreError) as raised:
        open_store("mysql://ann:s3cret@127.0.0.1/tape")
    message = str(raised.value)
    assert "unknown database scheme 'mysql'" in message
    assert "s3cret" not in message and "\n" not in message


def test_a_wrong_password_is_one_line_without_the_password() -> None:
    wrong = server_url(PASSWORD_URL_ENV).replace("tape-test-password", "not-the-password")
    with pytest.raises(StoreError) as raised:
        open_store(wrong)
    message = str(raised.value)
    assert "password authentication failed" in message
    assert "not-the-password" not in message and "\n" not in message


def test_a_missing_database_is_one_line() -> None:
    missing = server_url().rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError, match='database "no_such_database" does not exist'):
        open_store(missing)


def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket that accepts and never speaks: without the timeout, libpq would wait forever."""
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="cannot connect to"):
            open_store(f"postgresql://nobody@127.0.0.1:{port}/tape")
        assert 1 <= time.monotonic() - started < 3


def test_the_schema_uses_postgresql_types_and_byte_order_text(pg: Store, url: str) -> None:
    with admin(url) as db:
        columns = dict(
            db.execute(
                "SELECT table_name || '.' || column_name, data_type || ':' || "
                "COALESCE(collation_name, '') FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall()
        )
    assert columns["bodies.data"] == "bytea:"
    assert columns["artifacts.content"] == "bytea:"
    assert columns["flows.request_size"] == "bigint:"
    assert columns["flows.duration_ms"] == "double precision:"
    assert columns["flows.started_at"] == "text:C"


def test_two_processes_opening_a_fresh_database_at_once_make_one_schema_and_one_session(
    url: str,
) -> None:
    opener = "import sys; from mitmtape.store import open_store; open_store(sys.argv[1]).close()"
    env = {**os.environ, "PYTHONPATH": str(REPO / "addon")}
    processes = [
        subprocess.Popen([sys.executable, "-c", opener, url], env=env, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    with admin(url) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("SELECT count(*), sum(active) FROM sessions").fetchone() == (1, 1)


@pytest.mark.parametrize("old", range(1, SCHEMA_VERSION))
def test_an_older_schema_waits_for_migrate_which_says_from_and_to(url: str, old: int) -> None:
    with admin(url) as db:
        build_schema(db.execute, engine.PostgresEngine.ddl, old)
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert f"schema version {old}; this mitmtape uses {SCHEMA_VERSION}" in str(raised.value)
    assert "run `mitmtape migrate --db postgresql://" in str(raised.value)
    out = io.StringIO()
    assert cli.main(["--db", url, "migrate"], out=out) == 0
    assert f"migrated schema version {old} to {SCHEMA_VERSION}" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["--db", url, "migrate"], out=out) == 0
    assert f"schema version {SCHEMA_VERSION}, up to date" in out.getvalue()
    open_store(url).close()


def test_a_newer_schema_is_refused_naming_both_versions(url: str) -> None:
    open_store(url).close()
    with admin(url) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(
        StoreError, match=f"schema version 99; this mitmtape knows {SCHEMA_VERSION}"
    ):
        open_store(url)


@pytest.mark.parametrize("old", range(1, SCHEMA_VERSION))
def test_sqlite_upgrades_an_older_schema_by_itself(tmp_path: Path, old: int) -> None:
    import sqlite3

    path = tmp_path / "tape.db"
    with sqlite3.connect(path) as db:
        build_schema(db.execute, SqliteEngine.ddl, old)
    store = open_store(path)
    assert store.opened_version == old and store.schema_version() == SCHEMA_VERSION
    store.close()


def test_get_or_create_from_many_connections_at_once_makes_one_session(url: str) -> None:
    stores = [open_store(url) for _ in range(6)]
    found: list[str] = []
    barrier = threading.Barrier(len(stores))

    def ask(store: Store) -> None:
        barrier.wait()
        found.append(store.get_or_create_session("ci-run-7").id)

    threads = [threading.Thread(target=ask, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(found) == 6 and len(set(found)) == 1
    assert [s.name for s in stores[0].list_sessions()].count("ci-run-7") == 1
    for store in stores:
        store.close()


def test_a_dropped_connection_is_unavailable_once_then_the_store_reconnects(
    pg: Store, url: str, make_record: RecordFactory
) -> None:
    session = pg.active_session().id
    with admin(url) as db:
        db.execute("SELECT pg_terminate_backend(%s)", (pg._conn.conn.info.backend_pid,))
    first = make_record(session_id=session)
    with pytest.raises(StoreUnavailable, match="lost the connection to"):
        pg.add_flows([first])
    assert pg.add_flows([first]) == 1  # the caller's retry, on a new connection
    assert pg.count_flows(session) == 1


def test_long_reads_use_a_server_side_cursor_that_ends_before_the_last_batch(
    pg: Store, url: str, make_record: RecordFactory
) -> None:
    session = pg.active_session().id
    pg.add_flows([make_record(session_id=session) for _ in range(5)])
    batches = pg.iter_flow_batches(session, batch_size=2, with_bodies=False)
    first = next(batches)
    with admin(url) as db:
        reading = db.execute(
            "SELECT query FROM pg_stat_activity WHERE state = 'idle in transaction'"
        ).fetchall()
    assert len(first) == 2
    assert any(query.startswith('FETCH FORWARD 2 FROM "mitmtape_') for (query,) in reading)
    assert len(next(batches)) == 2
    assert len(next(batches)) == 1
    with admin(url) as db:  # the last batch is in hand: the snapshot is already closed
        assert not db.execute(
            "SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"
        ).fetchall()
    assert next(batches, None) is None


def test_without_psycopg_a_url_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "psycopg", None)
    with pytest.raises(StoreError, match=r"install mitmtape\[postgres\]") as raised:
        open_store("postgresql://ann:s3cret@127.0.0.1/tape")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("flow_filter", "index"),
    [
        (FlowFilter(method="GET"), "flows_by_method"),
        (FlowFilter(host="api.example.com"), "flows_by_host"),
        (FlowFilter(status_min=400, status_max=499), "flows_by_status"),
        (FlowFilter(), "flows_by_time"),
    ],
)
def test_filtered_pages_can_use_their_index_on_the_server(
    pg: Store, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch, flow_filter, index
) -> None:
    session = pg.active_session().id
    # A filter that picks few of many: an index is then the plan, as it is at scale.
    pg.add_flows(
        make_record(
            session_id=session,
            method="GET" if n % 20 == 0 else "POST",
            url=f"https://{'api.example.com' if n % 20 == 0 else f'h{n}.test'}/",
            status=404 if n % 20 == 0 else 200,
        )
        for n in range(2_000)
    )
    seen: list[tuple[str, list]] = []
    original = engine.Connection.execute

    def recording(self, statement, params=None):
        seen.append((statement, list(params or [])))
        return original(self, statement, params)

    monkeypatch.setattr(engine.Connection, "execute", recording)
    pg.page_flows(session, flow_filter, limit=10)
    monkeypatch.undo()
    queries = [(s, p) for s, p in seen if "FROM flows" in s and s.lstrip().startswith("SELECT")]
    assert queries
    with pg._lock:
        pg._db.execute("ANALYZE flows")  # the statistics autovacuum keeps on a real server
        pg._db.execute("SET enable_seqscan = off")  # a small table: ask whether it *can*
        plans = " ".join(
            row[0]
            for statement, params in queries
            for row in pg._db.execute("EXPLAIN " + statement, params).fetchall()
        )
        pg._db.execute("RESET enable_seqscan")
    assert index in plans and "Seq Scan on flows" not in plans


@pytest.mark.parametrize("size", [engine.COPY_BODY_MAX, engine.COPY_BODY_MAX + 1])
def test_bodies_at_the_copy_limit_and_past_it_come_back_whole(
    pg: Store, make_record: RecordFactory, size: int
) -> None:
    session = pg.active_session().id
    body = bytes(range(256)) * (size // 256)
    body = (body + b"\\x00\n\t\r")[:size]
    record = make_record(session_id=session, response_body=body, request_body=b"\\N\x00")
    pg.add_flows([record, make_record(session_id=session)])
    back = pg.get_flow(record.id)
    assert back.response is not None and back.response.body.data == body
    assert back.request.body.data == b"\\N\x00"
