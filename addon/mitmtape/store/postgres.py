"""The PostgreSQL engine: a server many proxies share, through psycopg 3.

The store's SQL is written with `?` parameters and SQLite's type names; this module is the only
one that knows it talks to PostgreSQL: `%s` parameters, `bytea` and `bigint`, byte-order text
("C" collation, so times and ULIDs sort as in SQLite), an advisory lock for changes two
processes must not make at once, server-side cursors for long reads, and reconnecting after the
server went away.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from mitmtape.model import new_id
from mitmtape.store.errors import StoreError, StoreUnavailable, one_line
from mitmtape.store.locations import masked
from mitmtape.store.schema import FLOW_COLUMNS

try:
    import psycopg
    from psycopg.pq import TransactionStatus
except ImportError:  # the extra is not installed: PostgresEngine says how to get it
    psycopg = None  # type: ignore[assignment]

T = TypeVar("T")
# No connection attempt waits longer than this (unless the URL asks for its own connect_timeout).
CONNECT_TIMEOUT_S = 5
# The key of the advisory lock that serialises migrations and active-session changes.
LOCK_KEY = 0x6D69746D74617065  # "mitmtape"
# The channel every writer NOTIFYs with the ids of the flows it committed; API servers LISTEN.
FLOWS_CHANNEL = "mitmtape_flows"
# A NOTIFY payload must stay under 8,000 bytes: ids go in chunks of this many (27 bytes each).
IDS_PER_NOTIFY = 250
# How often a listener looks at its stop flag, and how long it waits to reconnect.
LISTEN_POLL_S = 0.5
LISTEN_RETRY_S = 2.0
# Bodies up to this size go in by COPY with their flows; larger ones as binary parameters.
COPY_BODY_MAX = 1 << 20
TYPE_NAMES = {
    "BLOB": "BYTEA",
    "REAL": "DOUBLE PRECISION",
    # Sizes and counts can pass 2^31; one integer type keeps every column alike.
    "INTEGER": "BIGINT",
    # Byte order, as SQLite compares text: times and ids sort the same on both engines.
    "TEXT": 'TEXT COLLATE "C"',
}
TYPE_PATTERN = re.compile(r"\b(" + "|".join(TYPE_NAMES) + r")\b")


def copy_rows(db: Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """`COPY table (columns) FROM STDIN` of these rows, in the open transaction."""
    if not rows:
        return
    with (
        db.unavailable(),
        db.conn.cursor() as cursor,
        cursor.copy(f"COPY {table} FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


@lru_cache(maxsize=256)
def placeholders(statement: str) -> str:
    """The store's `?` parameters as psycopg's `%s` (a literal `%` doubled)."""
    return statement.replace("%", "%%").replace("?", "%s")


class Connection:
    """A psycopg connection that takes the store's SQL and reports a lost server as
    StoreUnavailable, so a caller may keep what it tried and try again on a new connection."""

    def __init__(self, conn: Any, shown: str) -> None:
        self.conn = conn
        self.shown = shown

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> Any:
        with self.unavailable():
            return self.conn.execute(placeholders(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Rows sent in one pipeline (psycopg's executemany), not a round trip each."""
        with self.unavailable():
            cursor = self.conn.cursor()
            if rows:
                cursor.executemany(placeholders(statement), rows)
            return cursor

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def unavailable(self) -> Iterator[None]:
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(f"lost the connection to {self.shown}: {one_line(exc)}") from exc


class PostgresEngine:
    """A PostgreSQL database by URL; libpq's environment variables fill the parts it omits."""

    name = "postgresql"
    begin = "BEGIN"
    # None to translate: the connection wrapper already raises StoreUnavailable itself.
    unavailable_errors: tuple[type[Exception], ...] = ()
    # PostgreSQL starts in its own catalogue: only a new database is migrated without asking.
    upgrades_automatically = False
    server_cursors = True

    def __init__(self, url: str) -> None:
        if psycopg is None:
            raise StoreError(
                f"{masked(url)} is a PostgreSQL URL, and psycopg is not installed: "
                "install mitmtape[postgres]"
            )
        self.path = None
        self.location = url
        self.shown = masked(url)
        self.database_errors: tuple[type[Exception], ...] = (psycopg.DatabaseError,)
        self.integrity_errors: tuple[type[Exception], ...] = (psycopg.IntegrityError,)

    def connect(self) -> Any:
        """A new autocommit connection (the store spells out its transactions); a server that
        does not answer is given up on after CONNECT_TIMEOUT_S."""
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(self.location):
            options["connect_timeout"] = CONNECT_TIMEOUT_S
        try:
            return psycopg.connect(self.location, **options)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {self.shown}: {one_line(exc)}") from None

    def open(self) -> Connection:
        try:
            psycopg.conninfo.conninfo_to_dict(self.location)
        except psycopg.ProgrammingError as exc:
            raise StoreError(
                f"{self.shown} is not a usable PostgreSQL URL: {one_line(exc)}"
            ) from None
        return Connection(self.connect(), self.shown)

    @staticmethod
    def broken(db: Connection) -> bool:
        """A connection the server dropped: the next call opens a new one."""
        return bool(db.conn.closed or db.conn.broken)

    @staticmethod
    def in_transaction(db: Connection) -> bool:
        status = db.conn.info.transaction_status
        return status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    @staticmethod
    def tables(db: Connection) -> set[str]:
        rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0] for row in rows}

    @staticmethod
    def ddl(statement: str) -> str:
        """The schema's SQLite type names as PostgreSQL spells them."""
        return TYPE_PATTERN.sub(lambda match: TYPE_NAMES[match.group(1)], statement)

    @staticmethod
    @contextmanager
    def exclusive(db: Connection) -> Iterator[None]:
        """Until the transaction ends, no other process makes a change that takes this lock."""
        db.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
        yield

    @staticmethod
    def contains(column: str) -> str:
        return f"strpos({column}, ?) > 0"

    @staticmethod
    def size(db: Connection) -> int:
        """The bytes of mitmtape's tables (with indexes and TOAST) in its schema."""
        row = db.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
        return int(row[0])

    @staticmethod
    def vacuum(db: Connection) -> None:
        """Dead rows' space made free for new ones (and trailing pages returned), statistics
        refreshed; takes no lock that stops a writer (unlike VACUUM FULL)."""
        db.execute("VACUUM (ANALYZE) flows, bodies, sessions, artifacts")

    @staticmethod
    def insert_flows(db: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Rows by COPY: the server parses one stream instead of a statement per flow, which on
        a machine shared with the proxy is CPU the proxy keeps."""
        copy_rows(db, f"flows ({FLOW_COLUMNS})", rows)

    @staticmethod
    def insert_bodies(db: Connection, bodies: list[tuple[str, str, bytes]]) -> None:
        """Small bodies by COPY with their flows; a large one as a binary parameter (COPY's text
        form would spell it out in hex, twice its size in memory)."""
        copy_rows(
            db, "bodies (flow_id, part, data)", [b for b in bodies if len(b[2]) <= COPY_BODY_MAX]
        )
        db.executemany(
            "INSERT INTO bodies (flow_id, part, data) VALUES (?, ?, ?)",
            [body for body in bodies if len(body[2]) > COPY_BODY_MAX],
        )

    @staticmethod
    def notify(db: Connection, flow_ids: list[str]) -> None:
        """Tell every listener which flows this transaction adds; delivered at COMMIT, never
        for a transaction rolled back."""
        for start in range(0, len(flow_ids), IDS_PER_NOTIFY):
            payload = " ".join(flow_ids[start : start + IDS_PER_NOTIFY])
            db.execute("SELECT pg_notify(?, ?)", (FLOWS_CHANNEL, payload))

    def listen(self, stop: threading.Event) -> Iterator[list[str]]:
        """The ids of flows any process commits, a NOTIFY at a time, until `stop` is set; a
        lost server is waited for and listened to again."""
        while not stop.is_set():
            try:
                conn = self.connect()
            except StoreUnavailable:
                stop.wait(LISTEN_RETRY_S)
                continue
            try:
                conn.execute(f"LISTEN {FLOWS_CHANNEL}")
                while not stop.is_set():
                    for note in conn.notifies(timeout=LISTEN_POLL_S, stop_after=1):
                        yield note.payload.split()
            except (psycopg.OperationalError, psycopg.InterfaceError):
                stop.wait(LISTEN_RETRY_S)
            finally:
                conn.close()

    def stream(
        self,
        statement: str,
        params: Sequence[Any],
        size: int,
        convert: Callable[[Connection, list[tuple[Any, ...]]], T],
    ) -> Iterator[T]:
        """Rows `size` at a time from a server-side cursor on a connection of its own, in one
        read-only snapshot, each batch turned by `convert` (which may read more, in the same
        snapshot, on the connection it is given).

        The snapshot holds locks while it is open, so it ends before the last batch is handed
        out: a reader that stops there (as a capped export does) keeps nothing open.
        """
        db = Connection(self.connect(), self.shown)
        try:
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            with db.unavailable(), db.conn.cursor(name=f"mitmtape_{new_id().lower()}") as cursor:
                cursor.execute(placeholders(statement), params)
                ready = None
                while rows := cursor.fetchmany(size):
                    if ready is not None:
                        yield ready
                    ready = convert(db, rows)
        finally:
            db.close()
        if ready is not None:
            yield ready
