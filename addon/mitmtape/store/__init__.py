"""SQLite store: schema and migrations, sessions, flow records, batched reads with filters.

The store owns every query. List and filter columns are plain indexed columns; a flow's bodies
live in their own table and are read only when a caller asks for them, so listings and CSV
never load a body. SQL stays standard (parameters, no SQLite tricks outside `_connect`) so
another engine can sit beside this one later.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitmtape.model import (
    Body,
    FlowRecord,
    Session,
    format_time,
    media_type,
    new_id,
    parse_time,
    utc_now,
)

DB_FILE_NAME = "mitmtape.db"
DB_ENV = "MITMTAPE_DB"
DEFAULT_CONFDIR = "~/.mitmproxy"
READ_BATCH = 5_000
# Bodies larger than this are written by incremental blob I/O, a chunk of this size at a time.
BLOB_CHUNK_BYTES = 1 << 20

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE flows (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            started_at TEXT NOT NULL,
            duration_ms REAL,
            source TEXT NOT NULL,
            method TEXT NOT NULL,
            url TEXT NOT NULL,
            host TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            request_size INTEGER NOT NULL,
            response_size INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            tags TEXT NOT NULL,
            error TEXT,
            record TEXT NOT NULL
        )""",
        """CREATE TABLE bodies (
            flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
            part TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (flow_id, part)
        )""",
        "CREATE INDEX flows_by_time ON flows (session_id, started_at, id)",
        "CREATE INDEX flows_by_method ON flows (session_id, method)",
        "CREATE INDEX flows_by_host ON flows (session_id, host)",
        "CREATE INDEX flows_by_status ON flows (session_id, status)",
        "CREATE INDEX flows_by_source ON flows (session_id, source)",
        "CREATE INDEX flows_sizes ON flows (session_id, request_size, response_size)",
    ),
    (
        """CREATE TABLE artifacts (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            session_id TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            file_name TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            metadata TEXT NOT NULL,
            created_at TEXT NOT NULL,
            content BLOB NOT NULL
        )""",
        "CREATE INDEX artifacts_by_session ON artifacts (session_id, type, created_at)",
        "CREATE INDEX artifacts_by_time ON artifacts (created_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

FLOW_COLUMNS = (
    "id, session_id, started_at, duration_ms, source, method, url, host, path, status, "
    "request_size, response_size, content_type, tags, error, record"
)
SESSION_QUERY = """
    SELECT s.id, s.name, s.description, s.created_at, s.updated_at, s.active,
           COUNT(f.id), COALESCE(SUM(f.request_size + f.response_size), 0),
           MIN(f.started_at), MAX(f.started_at)
    FROM sessions s LEFT JOIN flows f ON f.session_id = s.id
"""


class StoreError(Exception):
    """A problem a person can act on: the message names the database or session involved."""


class SessionNotFound(StoreError):
    pass


class FlowNotFound(StoreError):
    pass


class ArtifactNotFound(StoreError):
    pass


@dataclass(slots=True)
class Artifact:
    """A kept export (or other generated file): its description and, when read, its bytes."""

    id: str
    type: str
    session_id: str | None
    title: str
    summary: str
    file_name: str
    media_type: str
    size: int
    metadata: dict[str, Any]
    created_at: str
    content: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """The description, never the bytes (those are downloaded)."""
        return {
            "id": self.id,
            "type": self.type,
            "session_id": self.session_id,
            "title": self.title,
            "summary": self.summary,
            "file_name": self.file_name,
            "media_type": self.media_type,
            "size": self.size,
            "metadata": self.metadata,
            "created_at": self.created_at,
        }


def default_db_path(confdir: str = DEFAULT_CONFDIR) -> Path:
    """`MITMTAPE_DB` if set, else `{confdir}/mitmtape/mitmtape.db`."""
    from_env = os.environ.get(DB_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return Path(confdir).expanduser() / "mitmtape" / DB_FILE_NAME


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """The simple filters of spec section 3, all run in SQL; empty fields filter nothing."""

    method: str | None = None
    url: str | None = None
    host: str | None = None
    status_min: int | None = None
    status_max: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.method:
            clauses.append("method = ?")
            params.append(self.method.upper())
        if self.url:
            clauses.append("instr(url, ?) > 0")
            params.append(self.url)
        if self.host:
            clauses.append("host = ?")
            params.append(self.host.lower())
        if self.status_min is not None:
            clauses.append("status >= ?")
            params.append(self.status_min)
        if self.status_max is not None:
            clauses.append("status <= ?")
            params.append(self.status_max)
        return "".join(f" AND {clause}" for clause in clauses), params


NO_FILTER = FlowFilter()


def _record_row(record: FlowRecord) -> tuple[Any, ...]:
    """The indexed columns of a record, and its JSON form without body bytes.

    A body that was not kept has no bytes to keep apart, so its object (reason and size) stays
    in the document, where listings read it.
    """
    document = record.to_json(bodies=False)
    for part, body in Store._bodies_of(record):
        if body.omitted is not None:
            document[part]["body"] = body.to_json()
    content_type = media_type(record.response.content_type) if record.response else ""
    return (
        record.id,
        record.session_id,
        format_time(record.started_at),
        record.duration_ms,
        record.source,
        record.request.method.upper(),
        record.request.url,
        record.request.host.lower(),
        record.request.path,
        record.status,
        record.request_size,
        record.response_size,
        content_type,
        json.dumps(record.tags, ensure_ascii=False),
        record.error,
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
    )


def _session_of(row: sqlite3.Row | tuple[Any, ...]) -> Session:
    return Session(
        id=row[0],
        name=row[1],
        description=row[2],
        created_at=parse_time(row[3]),
        updated_at=parse_time(row[4]),
        active=bool(row[5]),
        flow_count=row[6],
        total_size=row[7],
        first_flow_at=None if row[8] is None else parse_time(row[8]),
        last_flow_at=None if row[9] is None else parse_time(row[9]),
    )


class Store:
    """One SQLite database. Thread-safe: every call takes the store's lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self._db = self._connect()
        try:
            self._migrate()
            self._ensure_active_session()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path} is not a usable mitmtape database: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        """Open (creating the folder), and prove the file is a database before anything writes."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {self.path}: {exc}") from None
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable mitmtape database: {exc}") from None
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # A COMMIT that failed (a full disk) may leave the transaction open: close it,
                # or every later one would fail too.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        with self._transaction() as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if "schema_version" not in tables:
                if tables:
                    raise StoreError(
                        f"{self.path} is an SQLite database of another program, not mitmtape's"
                    )
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
            (version,) = db.execute("SELECT version FROM schema_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this mitmtape knows "
                    f"{SCHEMA_VERSION}: upgrade mitmtape"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    # Sessions

    def _ensure_active_session(self) -> None:
        """Exactly one session is active; a fresh database gets one named after the time."""
        with self._transaction() as db:
            active = db.execute("SELECT id FROM sessions WHERE active = 1 ORDER BY id").fetchall()
            if len(active) == 1:
                return
            if active:
                db.execute("UPDATE sessions SET active = (id = ?)", (active[0][0],))
                return
            newest = db.execute("SELECT id FROM sessions ORDER BY updated_at DESC, id DESC")
            row = newest.fetchone()
            if row is None:
                self._insert_session(db, utc_now().strftime("%Y-%m-%d %H:%M:%S"), "", True)
            else:
                db.execute("UPDATE sessions SET active = 1 WHERE id = ?", (row[0],))

    def _insert_session(
        self, db: sqlite3.Connection, name: str, description: str, active: bool
    ) -> str:
        now = format_time(utc_now())
        session_id = new_id()
        db.execute(
            "INSERT INTO sessions (id, name, description, created_at, updated_at, active) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, name, description, now, now, int(active)),
        )
        return session_id

    def _check_name(self, db: sqlite3.Connection, name: str) -> str:
        clean = name.strip()
        if not clean:
            raise StoreError("a session name cannot be empty")
        if db.execute("SELECT 1 FROM sessions WHERE name = ?", (clean,)).fetchone():
            raise StoreError(f"a session named {clean!r} already exists")
        return clean

    def create_session(self, name: str, description: str = "", activate: bool = False) -> Session:
        with self._transaction() as db:
            session_id = self._insert_session(db, self._check_name(db, name), description, False)
            if activate:
                db.execute("UPDATE sessions SET active = (id = ?)", (session_id,))
        return self.get_session(session_id)

    def list_sessions(self) -> list[Session]:
        with self._lock:
            rows = self._db.execute(SESSION_QUERY + " GROUP BY s.id ORDER BY s.created_at, s.id")
            return [_session_of(row) for row in rows]

    def find_session(self, ref: str) -> Session | None:
        """A session by ULID or by exact name."""
        with self._lock:
            for column in ("id", "name"):
                row = self._db.execute(
                    SESSION_QUERY + f" WHERE s.{column} = ? GROUP BY s.id", (ref,)
                ).fetchone()
                if row is not None:
                    return _session_of(row)
        return None

    def get_session(self, ref: str) -> Session:
        session = self.find_session(ref)
        if session is None:
            raise SessionNotFound(f"no session with id or name {ref!r}")
        return session

    def active_session(self) -> Session:
        with self._lock:
            row = self._db.execute("SELECT id FROM sessions WHERE active = 1").fetchone()
        if row is None:
            self._ensure_active_session()
            return self.active_session()
        return self.get_session(row[0])

    def set_active(self, ref: str) -> Session:
        session = self.get_session(ref)
        with self._transaction() as db:
            db.execute("UPDATE sessions SET active = (id = ?)", (session.id,))
        return self.get_session(session.id)

    def get_or_create_session(self, name: str) -> Session:
        return self.find_session(name) or self.create_session(name)

    def rename_session(self, ref: str, new_name: str) -> Session:
        session = self.get_session(ref)
        with self._transaction() as db:
            clean = new_name.strip()
            if clean != session.name:
                clean = self._check_name(db, clean)
            db.execute(
                "UPDATE sessions SET name = ?, updated_at = ? WHERE id = ?",
                (clean, format_time(utc_now()), session.id),
            )
        return self.get_session(session.id)

    def delete_session(self, ref: str) -> Session:
        """Delete a session and all its flows; if it was active, another one takes over."""
        session = self.get_session(ref)
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session.id,))
        self._ensure_active_session()
        return session

    # Flows

    def add_flows(self, records: Iterable[FlowRecord]) -> int:
        """Write records in one transaction; records of sessions deleted meanwhile are dropped."""
        with self._transaction() as db:
            live = {row[0] for row in db.execute("SELECT id FROM sessions")}
            kept = [record for record in records if record.session_id in live]
            db.executemany(
                f"INSERT INTO flows ({FLOW_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                [_record_row(record) for record in kept],
            )
            bodies = [
                (record.id, part, body.data)
                for record in kept
                for part, body in self._bodies_of(record)
                if body.data
            ]
            db.executemany(
                "INSERT INTO bodies (flow_id, part, data) VALUES (?, ?, ?)",
                [body for body in bodies if len(body[2]) <= BLOB_CHUNK_BYTES],
            )
            for flow_id, part, data in bodies:
                if len(data) > BLOB_CHUNK_BYTES:
                    self._write_blob(db, flow_id, part, data)
            now = format_time(utc_now())
            db.executemany(
                "UPDATE sessions SET updated_at = ? WHERE id = ?",
                [(now, session_id) for session_id in {record.session_id for record in kept}],
            )
        return len(kept)

    @staticmethod
    def _write_blob(db: sqlite3.Connection, flow_id: str, part: str, data: bytes) -> None:
        """A large body written in place, a chunk at a time.

        Bound as one parameter, SQLite would copy the whole body before writing it; a zeroblob
        takes no memory, and incremental blob I/O writes through the page cache.
        """
        cursor = db.execute(
            "INSERT INTO bodies (flow_id, part, data) VALUES (?, ?, zeroblob(?))",
            (flow_id, part, len(data)),
        )
        assert cursor.lastrowid is not None
        view = memoryview(data)
        with db.blobopen("bodies", "data", cursor.lastrowid) as blob:
            for start in range(0, len(view), BLOB_CHUNK_BYTES):
                blob.write(view[start : start + BLOB_CHUNK_BYTES])

    @staticmethod
    def _bodies_of(record: FlowRecord) -> list[tuple[str, Body]]:
        parts = [("request", record.request.body)]
        if record.response is not None:
            parts.append(("response", record.response.body))
        return parts

    def count_flows(self, session_id: str, flow_filter: FlowFilter = NO_FILTER) -> int:
        where, params = flow_filter.where()
        with self._lock:
            query = f"SELECT COUNT(*) FROM flows WHERE session_id = ?{where}"
            return self._db.execute(query, [session_id, *params]).fetchone()[0]

    def iter_flow_batches(
        self,
        session_id: str,
        flow_filter: FlowFilter = NO_FILTER,
        batch_size: int = READ_BATCH,
        with_bodies: bool = True,
    ) -> Iterator[list[FlowRecord]]:
        """Matching records oldest first, `batch_size` at a time (keyset paging, no OFFSET).

        Without bodies the records carry empty bodies that still know their sizes; the lock is
        held only while one batch is read.
        """
        where, params = flow_filter.where()
        after: tuple[str, str] = ("", "")
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {FLOW_COLUMNS} FROM flows WHERE session_id = ?{where} "
                    "AND (started_at > ? OR (started_at = ? AND id > ?)) "
                    "ORDER BY started_at, id LIMIT ?",
                    [session_id, *params, after[0], after[0], after[1], batch_size],
                ).fetchall()
                bodies = self._read_bodies([row[0] for row in rows]) if with_bodies else {}
            if not rows:
                return
            yield [self._record_of(row, bodies) for row in rows]
            after = (rows[-1][2], rows[-1][0])
            if len(rows) < batch_size:
                return

    def list_flows(
        self,
        session_id: str,
        flow_filter: FlowFilter = NO_FILTER,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FlowRecord]:
        """One page of matching records, oldest first, without body bytes (sizes kept)."""
        where, params = flow_filter.where()
        with self._lock:
            rows = self._db.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows WHERE session_id = ?{where} "
                "ORDER BY started_at, id LIMIT ? OFFSET ?",
                [session_id, *params, max(0, limit), max(0, offset)],
            ).fetchall()
        return [self._record_of(row, {}) for row in rows]

    def _read_bodies(self, flow_ids: list[str]) -> dict[tuple[str, str], bytes]:
        found: dict[tuple[str, str], bytes] = {}
        for start in range(0, len(flow_ids), 500):
            chunk = flow_ids[start : start + 500]
            rows = self._db.execute(
                "SELECT flow_id, part, data FROM bodies "
                f"WHERE flow_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update({(flow_id, part): data for flow_id, part, data in rows})
        return found

    @staticmethod
    def _record_of(row: tuple[Any, ...], bodies: dict[tuple[str, str], bytes]) -> FlowRecord:
        """A record from its row; bodies from `bodies`, or only their sizes when not read."""
        record = FlowRecord.from_json(json.loads(row[15]))
        request_size, response_size = row[10], row[11]
        request = record.request
        request.body = Body(
            bodies.get((record.id, "request"), b""), request_size, request.body.omitted
        )
        if (response := record.response) is not None:
            response.body = Body(
                bodies.get((record.id, "response"), b""), response_size, response.body.omitted
            )
        return record

    def get_flow(self, flow_id: str) -> FlowRecord:
        with self._lock:
            row = self._db.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?", (flow_id,)
            ).fetchone()
            if row is None:
                raise FlowNotFound(f"no flow with id {flow_id!r}")
            return self._record_of(row, self._read_bodies([flow_id]))

    # Artifacts

    def add_artifact(self, artifact: Artifact, keep: int | None = None) -> Artifact:
        """Keep an artifact; `artifact.content` must hold its bytes.

        With `keep`, the artifacts of the same type and session beyond the `keep` newest are
        deleted in the same transaction, so a crash never leaves more (or fewer) behind.
        """
        if artifact.content is None:
            raise StoreError(f"artifact {artifact.title!r} has no content")
        with self._transaction() as db:
            self._insert_artifact(db, artifact)
            if keep is not None:
                self._prune_artifacts(db, artifact.type, artifact.session_id, keep)
        return artifact

    def prune_artifacts(self, type: str, session_id: str | None, keep: int) -> int:
        """Delete the artifacts of this type and session beyond the `keep` newest; how many."""
        with self._transaction() as db:
            return self._prune_artifacts(db, type, session_id, keep)

    @staticmethod
    def _prune_artifacts(
        db: sqlite3.Connection, type: str, session_id: str | None, keep: int
    ) -> int:
        if keep < 0:
            raise StoreError(f"the number of artifacts to keep must be 0 or more, not {keep}")
        # Artifacts of no session (exports of a selection) are pruned as one group.
        same = "type = ? AND " + ("session_id = ?" if session_id else "session_id IS NULL")
        params = [type, session_id] if session_id else [type]
        cursor = db.execute(
            f"DELETE FROM artifacts WHERE {same} AND id NOT IN ("
            f"SELECT id FROM artifacts WHERE {same} ORDER BY created_at DESC, id DESC LIMIT ?)",
            [*params, *params, keep],
        )
        return cursor.rowcount

    @staticmethod
    def _insert_artifact(db: sqlite3.Connection, artifact: Artifact) -> None:
        db.execute(
            f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}, content) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                artifact.id,
                artifact.type,
                artifact.session_id,
                artifact.title,
                artifact.summary,
                artifact.file_name,
                artifact.media_type,
                artifact.size,
                json.dumps(artifact.metadata, ensure_ascii=False),
                artifact.created_at,
                artifact.content,
            ),
        )

    def list_artifacts(
        self,
        type: str | None = None,
        session_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Artifact]:
        """Newest first, without their bytes."""
        clauses, params = [], []
        if type:
            clauses.append("type = ?")
            params.append(type)
        if session_id:
            clauses.append("session_id = ?")
            params.append(session_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {ARTIFACT_COLUMNS} FROM artifacts{where} "
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, max(0, limit), max(0, offset)],
            ).fetchall()
        return [_artifact_of(row) for row in rows]

    def get_artifact(self, artifact_id: str) -> Artifact:
        """An artifact with its bytes."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {ARTIFACT_COLUMNS}, content FROM artifacts WHERE id = ?", (artifact_id,)
            ).fetchone()
        if row is None:
            raise ArtifactNotFound(f"no artifact with id {artifact_id!r}")
        artifact = _artifact_of(row[:-1])
        artifact.content = row[-1]
        return artifact

    def delete_artifact(self, artifact_id: str) -> Artifact:
        artifact = self.get_artifact(artifact_id)
        with self._transaction() as db:
            db.execute("DELETE FROM artifacts WHERE id = ?", (artifact_id,))
        return artifact


ARTIFACT_COLUMNS = (
    "id, type, session_id, title, summary, file_name, media_type, size, metadata, created_at"
)


def _artifact_of(row: tuple[Any, ...]) -> Artifact:
    return Artifact(*row[:8], metadata=json.loads(row[8]), created_at=row[9])
