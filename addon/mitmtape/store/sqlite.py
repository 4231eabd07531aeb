"""The SQLite engine: the file, its PRAGMAs, and the few places SQLite's SQL is its own.

Everything else the store does is portable SQL with `?` parameters; this module is the only one
that knows it talks to SQLite (WAL journal, `instr`, `sqlite_master`, incremental blob I/O).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from mitmtape.store.errors import StoreError
from mitmtape.store.schema import FLOW_COLUMNS

# Writers wait this long for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 10_000
# Bodies larger than this are written by incremental blob I/O, a chunk of this size at a time.
BLOB_CHUNK_BYTES = 1 << 20
# Free pages handed back per step of `vacuum` (4 MB of 4 KB pages): each step is a short write.
VACUUM_PAGES = 1_000
# `PRAGMA auto_vacuum` value of a file that frees pages on request (`incremental_vacuum`).
INCREMENTAL = 2


class SqliteEngine:
    """One SQLite file (WAL mode), opened in autocommit so the store spells out transactions."""

    name = "sqlite"
    begin = "BEGIN IMMEDIATE"
    # Errors that say "not now" rather than "never": a full disk, an I/O error, a lock held too
    # long. A write that meets one may succeed later.
    unavailable_errors: tuple[type[Exception], ...] = (sqlite3.OperationalError,)
    database_errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    # A file belongs to its user: an older schema is upgraded when it is opened.
    upgrades_automatically = True
    # Long reads page by key instead (a long read would keep the WAL from checkpointing).
    server_cursors = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)
        self.shown = str(self.path)

    def open(self) -> sqlite3.Connection:
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
            # Takes effect in a new file only (before its first table): `vacuum` then frees
            # pages in short steps instead of rewriting the whole file.
            db.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable mitmtape database: {exc}") from None
        return db

    @staticmethod
    def broken(db: sqlite3.Connection) -> bool:
        """A file's connection does not drop."""
        return False

    @staticmethod
    def in_transaction(db: sqlite3.Connection) -> bool:
        return db.in_transaction

    @staticmethod
    def tables(db: sqlite3.Connection) -> set[str]:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}

    @staticmethod
    def ddl(statement: str) -> str:
        """The schema is written in SQLite's own type names."""
        return statement

    @staticmethod
    def exclusive(db: sqlite3.Connection) -> AbstractContextManager[None]:
        """`BEGIN IMMEDIATE` already keeps a second writing process out."""
        return nullcontext()

    @staticmethod
    def contains(column: str) -> str:
        """A substring test of one parameter, case-sensitive as the spec's `url` filter is."""
        return f"instr({column}, ?) > 0"

    @staticmethod
    def notify(db: sqlite3.Connection, flow_ids: list[str]) -> None:
        """No other process listens on a file; a proxy's own writer reports its commits."""

    @staticmethod
    def listen(stop: threading.Event) -> Iterator[list[str]]:
        """Nothing to hear: the iterator ends at once."""
        return iter(())

    def size(self, db: sqlite3.Connection) -> int:
        """The file and its write-ahead log, in bytes."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(path.stat().st_size for path in (self.path, wal) if path.exists())

    @staticmethod
    def vacuum(db: sqlite3.Connection) -> None:
        """Free pages go back to the file system: in short steps in a file made for it, else by
        one rewrite that also makes it so (a file of an older mitmtape, once), then the log is
        emptied."""
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
            while db.execute("PRAGMA freelist_count").fetchone()[0]:
                db.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
        else:
            db.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
            db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    @staticmethod
    def insert_flows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        db.executemany(f"INSERT INTO flows ({FLOW_COLUMNS}) VALUES ({', '.join('?' * 16)})", rows)

    @staticmethod
    def insert_bodies(db: sqlite3.Connection, bodies: list[tuple[str, str, bytes]]) -> None:
        """Small bodies in one statement; a large one written in place, a chunk at a time.

        Bound as one parameter, SQLite would copy a whole body before writing it; a zeroblob
        takes no memory, and incremental blob I/O writes through the page cache.
        """
        db.executemany(
            "INSERT INTO bodies (flow_id, part, data) VALUES (?, ?, ?)",
            [body for body in bodies if len(body[2]) <= BLOB_CHUNK_BYTES],
        )
        for flow_id, part, data in bodies:
            if len(data) > BLOB_CHUNK_BYTES:
                _write_blob(db, flow_id, part, data)


def _write_blob(db: sqlite3.Connection, flow_id: str, part: str, data: bytes) -> None:
    cursor = db.execute(
        "INSERT INTO bodies (flow_id, part, data) VALUES (?, ?, zeroblob(?))",
        (flow_id, part, len(data)),
    )
    assert cursor.lastrowid is not None
    view = memoryview(data)
    with db.blobopen("bodies", "data", cursor.lastrowid) as blob:
        for start in range(0, len(view), BLOB_CHUNK_BYTES):
            blob.write(view[start : start + BLOB_CHUNK_BYTES])
