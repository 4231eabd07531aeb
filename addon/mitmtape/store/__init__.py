"""The store: sessions, flow records, artifacts, batched reads with filters, on any engine.

The store owns every query. List and filter columns are plain indexed columns; a flow's bodies
live in their own table and are read only when a caller asks for them, so listings and CSV
never load a body. The SQL here is portable (`?` parameters, standard statements); what one
database spells its own way (connection set-up, substring search, large blobs, the catalogue)
is in its engine module (`sqlite.py`, `postgres.py`). `open_store` picks the engine from a path
or URL.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mitmtape.model import (
    FlowRecord,
    Session,
    format_time,
    new_id,
    parse_time,
    utc_now,
)
from mitmtape.store import counters
from mitmtape.store.errors import (
    ArtifactNotFound,
    FlowNotFound,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
)
from mitmtape.store.filters import NO_FILTER, FlowFilter
from mitmtape.store.locations import is_url, masked
from mitmtape.store.paging import Cursor, FlowPage, InvalidCursor, Order, check_order, links, seek
from mitmtape.store.retention import PruneResult, Retention, VacuumResult
from mitmtape.store.rows import RowBatch, record_of, rows_of
from mitmtape.store.schema import (
    ARTIFACT_COLUMNS,
    FLOW_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SESSION_COLUMNS,
)
from mitmtape.store.sqlite import SqliteEngine

__all__ = [
    "NO_FILTER",
    "Artifact",
    "ArtifactNotFound",
    "FlowFilter",
    "FlowNotFound",
    "FlowPage",
    "InvalidCursor",
    "PruneResult",
    "SessionNotFound",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VacuumResult",
    "data_folder",
    "default_db_path",
    "masked",
    "open_store",
]

DB_FILE_NAME = "mitmtape.db"
DB_ENV = "MITMTAPE_DB"
DEFAULT_CONFDIR = "~/.mitmproxy"
READ_BATCH = 5_000
# Flow ids per `IN (...)` query (SQLite allows 999 parameters in old builds).
BODY_QUERY_IDS = 500

# A mitmproxy expression is tried on this many flows at a time: a first page of common matches
# stops after a batch or two, a rare match streams on through the session.
SCAN_BATCH = 250
# A status range matching more flows than this is paged along the time index, not sorted.
STATUS_SORT_MAX = 10_000
# A URL-substring total past this many flows is estimated (a count would read every URL of
# the session).
COUNT_SAMPLE = 10_000
# An estimate is the share of the newest this-many flows that match (within a few per cent of
# the truth when matches are common; 10,000 cost a server 10 ms more a first page).
ESTIMATE_SAMPLE = 1_000
# An index count stops here: past it the total is estimated (a server counting 200,000 index
# entries takes longer than the page). Not below STATUS_SORT_MAX, which it must tell apart.
COUNT_EXACT_MAX = 10_000
# A flow's two bodies beside its row, for a read that streams both in one cursor.
BODY_JOINS = (
    " LEFT JOIN bodies sent ON sent.flow_id = flows.id AND sent.part = 'request'"
    " LEFT JOIN bodies answered ON answered.flow_id = flows.id AND answered.part = 'response'"
)
# Makes one session the active one and every other inactive, in one portable statement.
ACTIVATE = "UPDATE sessions SET active = CASE WHEN id = ? THEN 1 ELSE 0 END"


class Engine(Protocol):
    """What the store needs of a database: see `sqlite.py` for the reference engine."""

    name: str
    begin: str
    location: str  # what `open_store` takes back (path, or URL with its credentials)
    shown: str  # what messages and logs show (a URL's password masked)
    path: Path | None  # the SQLite file, for what lives beside it (workspaces); None on a server
    unavailable_errors: tuple[type[Exception], ...]
    database_errors: tuple[type[Exception], ...]
    integrity_errors: tuple[type[Exception], ...]
    upgrades_automatically: bool  # False: an older schema waits for `mitmtape migrate`
    server_cursors: bool  # True: long reads go through `stream`, else keyset paging

    def open(self) -> Any: ...
    def broken(self, db: Any) -> bool: ...
    def in_transaction(self, db: Any) -> bool: ...
    def tables(self, db: Any) -> set[str]: ...
    def ddl(self, statement: str) -> str: ...
    def exclusive(self, db: Any) -> AbstractContextManager[None]: ...
    def contains(self, column: str) -> str: ...
    def insert_flows(self, db: Any, rows: list[tuple[Any, ...]]) -> None: ...
    def insert_bodies(self, db: Any, bodies: list[tuple[str, str, bytes]]) -> None: ...
    def size(self, db: Any) -> int: ...
    def vacuum(self, db: Any) -> None: ...
    def notify(self, db: Any, flow_ids: list[str]) -> None: ...
    def listen(self, stop: threading.Event) -> Iterator[list[str]]: ...
    def stream(
        self,
        statement: str,
        params: Sequence[Any],
        size: int,
        convert: Callable[[Any, list[tuple[Any, ...]]], list[FlowRecord]],
    ) -> Iterator[list[FlowRecord]]: ...


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


def open_store(path_or_url: str | os.PathLike[str], upgrade: bool = False) -> Store:
    """The store at a PostgreSQL URL (`postgresql://` or `postgres://`) or a SQLite path.

    `upgrade` migrates an older schema on any engine (`mitmtape migrate`); without it only
    engines that upgrade automatically (SQLite) do.
    """
    return Store(engine_for(path_or_url), upgrade=upgrade)


def engine_for(path_or_url: str | os.PathLike[str]) -> Engine:
    """The engine a location names; a URL of another scheme is refused, not taken as a path."""
    location = os.fspath(path_or_url)
    if is_url(location):
        # Only now: a SQLite store never loads the PostgreSQL driver (~70 ms, 10 MB).
        from mitmtape.store.postgres import PostgresEngine

        return PostgresEngine(location)
    scheme, found, _ = location.partition("://")
    if found and scheme.isidentifier():
        raise StoreError(
            f"{masked(location)}: unknown database scheme {scheme!r}; "
            "use postgresql://user@host/db or a SQLite file path"
        )
    return SqliteEngine(location)


def default_db_path(confdir: str = DEFAULT_CONFDIR) -> str | Path:
    """`MITMTAPE_DB` if set (a path, or a URL kept as given), else
    `{confdir}/mitmtape/mitmtape.db`."""
    from_env = os.environ.get(DB_ENV)
    if from_env:
        return from_env if "://" in from_env else Path(from_env).expanduser()
    return data_folder(confdir) / DB_FILE_NAME


def data_folder(confdir: str | None = None) -> Path:
    """mitmtape's own folder, `{confdir}/mitmtape`: the default database, and the workspaces of
    a store on a server (a SQLite file keeps them beside itself)."""
    return Path(confdir or DEFAULT_CONFDIR).expanduser() / "mitmtape"


def _session_of(row: tuple[Any, ...]) -> Session:
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


class Store(Retention):
    """One database, through its engine. Thread-safe: every call takes the store's lock."""

    def __init__(self, path: str | os.PathLike[str] | Engine, upgrade: bool = False) -> None:
        self.engine: Engine = engine_for(path) if isinstance(path, (str, os.PathLike)) else path
        # The SQLite file, for what lives beside it (workspaces); None on a server.
        self.path: Path | None = self.engine.path
        self._lock = threading.RLock()
        self._conn = self.engine.open()
        try:
            # The schema version found on opening, before any migration ran.
            self.opened_version = self._migrate(upgrade or self.engine.upgrades_automatically)
            self._ensure_active_session()
        except (StoreError, *self.engine.database_errors) as exc:
            self._conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(
                f"{self.engine.shown} is not a usable mitmtape database: {exc}"
            ) from None

    @property
    def _db(self) -> Any:
        """The connection; a new one when the server dropped the last (so a write that met a
        server gone away succeeds once it is back)."""
        if self.engine.broken(self._conn):
            self._conn = self.engine.open()
        return self._conn

    @property
    def location(self) -> str:
        """What `open_store` opens again (another process: the writer)."""
        return self.engine.location

    @property
    def shown(self) -> str:
        """The database as messages name it (a URL's password masked)."""
        return self.engine.shown

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            db = self._db
            db.execute(self.engine.begin)
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # A COMMIT that failed (a full disk) may leave the transaction open: close it,
                # or every later one would fail too. A dropped connection has none to close.
                if not self.engine.broken(db) and self.engine.in_transaction(db):
                    db.execute("ROLLBACK")
                raise

    def _migrate(self, upgrade: bool) -> int:
        """Create or upgrade the schema under the engine's lock; the version found before.

        Two processes opening a fresh database at once: the second waits for the lock, then
        finds the schema made. A shared database is upgraded only when `upgrade` says so.
        """
        with self._transaction() as db, self.engine.exclusive(db):
            tables = self.engine.tables(db)
            if "schema_version" not in tables:
                if tables:
                    raise StoreError(
                        f"{self.engine.shown} is a database of another program, not mitmtape's"
                    )
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
            (version,) = db.execute("SELECT version FROM schema_version").fetchone()
            self._check_version(version, upgrade)
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(self.engine.ddl(statement))
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        return version

    def _check_version(self, version: int, upgrade: bool) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.engine.shown} has schema version {version}; this mitmtape knows "
                f"{SCHEMA_VERSION}: upgrade mitmtape"
            )
        if 0 < version < SCHEMA_VERSION and not upgrade:
            raise StoreError(
                f"{self.engine.shown} has schema version {version}; this mitmtape uses "
                f"{SCHEMA_VERSION}: run `mitmtape migrate --db {self.engine.shown}`"
            )

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    # Sessions

    def _ensure_active_session(self) -> None:
        """Exactly one session is active; a fresh database gets one named after the time."""
        with self._transaction() as db, self.engine.exclusive(db):
            active = db.execute("SELECT id FROM sessions WHERE active = 1 ORDER BY id").fetchall()
            if len(active) == 1:
                return
            if active:
                db.execute(ACTIVATE, (active[0][0],))
                return
            newest = db.execute("SELECT id FROM sessions ORDER BY updated_at DESC, id DESC")
            row = newest.fetchone()
            if row is None:
                self._insert_session(db, utc_now().strftime("%Y-%m-%d %H:%M:%S"), "", True)
            else:
                db.execute("UPDATE sessions SET active = 1 WHERE id = ?", (row[0],))

    def _insert_session(self, db: Any, name: str, description: str, active: bool) -> str:
        now = format_time(utc_now())
        session_id = new_id()
        db.execute(
            "INSERT INTO sessions (id, name, description, created_at, updated_at, active) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, name, description, now, now, int(active)),
        )
        return session_id

    def _check_name(self, db: Any, name: str) -> str:
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
                db.execute(ACTIVATE, (session_id,))
        return self.get_session(session_id)

    def list_sessions(self) -> list[Session]:
        """Every session with its counters: one row each, whatever the number of flows."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at, id"
            )
            return [_session_of(row) for row in rows]

    def find_session(self, ref: str) -> Session | None:
        """A session by ULID or by exact name."""
        with self._lock:
            for column in ("id", "name"):
                row = self._db.execute(
                    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {column} = ?", (ref,)
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
            db.execute(ACTIVATE, (session.id,))
        return self.get_session(session.id)

    def get_or_create_session(self, name: str) -> Session:
        """The session of this id or name, made if none: two processes asking at once for a
        new name get the same session (insert-or-get on the unique name)."""
        found = self.find_session(name)
        if found is not None:
            return found
        clean = name.strip()
        if not clean:
            raise StoreError("a session name cannot be empty")
        now = format_time(utc_now())
        with self._transaction() as db:
            db.execute(
                "INSERT INTO sessions (id, name, description, created_at, updated_at, active) "
                "VALUES (?, ?, '', ?, ?, 0) ON CONFLICT (name) DO NOTHING",
                (new_id(), clean, now, now),
            )
        return self.get_session(clean)

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
        """Write records in one transaction; records of sessions deleted meanwhile are dropped.

        Raises StoreUnavailable when the database cannot take the write now (a full disk, a
        server gone away): nothing of the batch is kept, and the same call may succeed later.
        """
        return self.add_rows(rows_of(records))

    def add_rows(self, batch: RowBatch) -> int:
        """`add_flows` for records already made rows (`rows_of`), as an import's writer
        process receives them."""
        try:
            with self._transaction() as db:
                live = {row[0] for row in db.execute("SELECT id FROM sessions")}
                rows, bodies = batch
                kept = [row for row in rows if row[1] in live]
                if len(kept) < len(rows):
                    ids = {row[0] for row in kept}
                    bodies = [body for body in bodies if body[0] in ids]
                self._insert_rows(db, (kept, bodies), format_time(utc_now()))
        except self.engine.unavailable_errors as exc:
            raise StoreUnavailable(f"cannot write to {self.engine.shown}: {exc}") from exc
        return len(kept)

    def _insert_rows(self, db: Any, batch: RowBatch, touched_at: str | None) -> None:
        """Rows, bodies, the sessions' counters, and (on a shared server) word to every
        listener once this commits; `touched_at` also moves the sessions' `updated_at`."""
        rows, bodies = batch
        self.engine.insert_flows(db, rows)
        db.executemany(counters.ADD, counters.additions(rows, touched_at))
        self.engine.insert_bodies(db, bodies)
        self.engine.notify(db, [row[0] for row in rows])

    def committed_flow_ids(self, stop: threading.Event) -> Iterator[list[str]]:
        """The ids of flows any process commits from now on, a batch at a time, until `stop`
        is set; nothing on an engine that tells no other process. Only ids: a listener reads
        the flows (`flows_by_id`) when somebody wants them, not for every flow a team
        records."""
        return self.engine.listen(stop)

    def flows_by_id(self, flow_ids: list[str]) -> list[FlowRecord]:
        """These flows without body bytes, in their order; missing ones left out."""
        with self._lock:
            return self._records_by_id(self._db, flow_ids)

    def _records_by_id(self, db: Any, flow_ids: list[str]) -> list[FlowRecord]:
        """Records without body bytes, in the order of `flow_ids` (missing ones left out)."""
        found: dict[str, FlowRecord] = {}
        for chunk in id_chunks(flow_ids):
            rows = db.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((row[0], record_of(row, {})) for row in rows)
        return [found[flow_id] for flow_id in flow_ids if flow_id in found]

    def count_flows(
        self, session_id: str, flow_filter: FlowFilter = NO_FILTER, at_most: int | None = None
    ) -> int:
        """How many flows match: the session's counter when nothing is filtered. With
        `at_most`, a filtered count stops one past it (an index count a page can afford)."""
        if flow_filter.empty:
            with self._lock:
                row = self._db.execute(
                    "SELECT flow_count FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
            return 0 if row is None else row[0]
        where, params = flow_filter.where(self.engine.contains)
        matching, values = f"FROM flows WHERE session_id = ?{where}", [session_id, *params]
        if at_most is not None:
            matching = f"FROM (SELECT 1 {matching} LIMIT ?) AS capped"
            values.append(at_most + 1)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) {matching}", values).fetchone()[0]

    def iter_flow_batches(
        self,
        session_id: str,
        flow_filter: FlowFilter = NO_FILTER,
        batch_size: int = READ_BATCH,
        with_bodies: bool = True,
    ) -> Iterator[list[FlowRecord]]:
        """Matching records oldest first, `batch_size` at a time (keyset paging, no OFFSET).

        Without bodies the records carry empty bodies that still know their sizes; the lock is
        held only while one batch is read. An engine with server-side cursors reads one snapshot
        through one on a connection of its own, and takes no lock at all.
        """
        if self.engine.server_cursors:
            yield from self._streamed_batches(session_id, flow_filter, batch_size, with_bodies)
            return
        yield from self._walk(session_id, flow_filter, "asc", None, batch_size, with_bodies)

    def _streamed_batches(
        self, session_id: str, flow_filter: FlowFilter, size: int, with_bodies: bool
    ) -> Iterator[list[FlowRecord]]:
        """One cursor over the flows, their bodies joined in (no second query per batch: on a
        server each would be a round trip and a plan for hundreds of ids)."""
        where, params = flow_filter.where(self.engine.contains)
        columns, joins = FLOW_COLUMNS, ""
        if with_bodies:
            columns += ", sent.data, answered.data"
            joins = BODY_JOINS

        def records(db: Any, rows: list[tuple[Any, ...]]) -> list[FlowRecord]:
            if not with_bodies:
                return [record_of(row, {}) for row in rows]
            return [record_of(row[:16], joined_bodies(row)) for row in rows]

        query = f"SELECT {columns} FROM flows{joins} WHERE session_id = ?{where} "
        query += "ORDER BY started_at, id"
        yield from self.engine.stream(query, [session_id, *params], size, records)

    def list_flows(
        self,
        session_id: str,
        flow_filter: FlowFilter = NO_FILTER,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FlowRecord]:
        """One page of matching records, oldest first, without body bytes (sizes kept)."""
        return self.page_flows(session_id, flow_filter, limit, offset=offset).records

    def page_flows(
        self,
        session_id: str,
        flow_filter: FlowFilter = NO_FILTER,
        limit: int = 100,
        order: str = "asc",
        cursor: str | None = None,
        offset: int = 0,
        matches: Callable[[FlowRecord], bool] | None = None,
    ) -> FlowPage:
        """One page of matching records (without body bytes unless `matches` needed them) in
        `order` of time, read by key from `cursor` (a page's `next` or `prev`) or, for older
        clients, after skipping `offset`; with the total and the cursors on.

        `matches` is a test no SQL can run (a mitmproxy expression): the simple filters narrow
        the read in SQL, `matches` sees what is left, SCAN_BATCH at a time, until the page is
        full. The total is counted once, on a first page, and carried on in the cursors: a
        session's counter when nothing is filtered, an index count for the simple filters up
        to COUNT_EXACT_MAX, an estimate (marked so) past it or where counting means reading
        every flow.
        """
        sort = check_order(order)
        position = Cursor.decode(cursor) if cursor is not None else None
        if position is not None:
            if offset:
                raise StoreError("give either a cursor or an offset, not both")
            sort = position.order
        limit, offset = max(0, limit), max(0, offset)
        carried = None
        if position is not None and position.total is not None:
            carried = (position.total, position.estimated)
        if matches is None:
            counted = carried or self._total(session_id, flow_filter, None, 0, False)
            # Many matches of a status range: walking the time index finds a page's worth
            # soon; sorting them all from the status index would not.
            by_time = counted[0] > STATUS_SORT_MAX
            records, more = self._page_rows(
                session_id, flow_filter, sort, position, (limit, offset), by_time
            )
        else:
            records, more, sample = self._page_matches(
                session_id, flow_filter, matches, sort, position, limit, offset
            )
            counted = carried or self._total(
                session_id, flow_filter, sample, len(records) + offset, more
            )
        next_cursor, prev_cursor = links(records, position, sort, more, counted, offset)
        return FlowPage(records, counted[0], sort, counted[1], offset, next_cursor, prev_cursor)

    def _page_rows(
        self,
        session_id: str,
        flow_filter: FlowFilter,
        order: Order,
        position: Cursor | None,
        window: tuple[int, int],
        by_time: bool,
    ) -> tuple[list[FlowRecord], bool]:
        """A page by SQL alone (one more row than asked says whether more follow); `by_time`
        keeps a status range off its index, so the page is read in time order."""
        limit, offset = window
        where, params = flow_filter.where(self.engine.contains, by_time)
        after, sort, keys = seek(position, order)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows WHERE session_id = ?{where}{after} "
                f"ORDER BY {sort} LIMIT ? OFFSET ?",
                [session_id, *params, *keys, limit + 1, offset],
            ).fetchall()
        records = [record_of(row, {}) for row in rows[:limit]]
        if position is not None and position.backward:
            records.reverse()
        return records, len(rows) > limit

    def _page_matches(
        self,
        session_id: str,
        flow_filter: FlowFilter,
        matches: Callable[[FlowRecord], bool],
        order: Order,
        position: Cursor | None,
        limit: int,
        offset: int,
    ) -> tuple[list[FlowRecord], bool, tuple[int, int]]:
        """A page of what `matches` accepts, streamed by key with an early stop; also how many
        flows were tried and how many of them matched (for an estimate of the total)."""
        # A test that says it never looks at bodies (`needs_bodies = False`) is spared them.
        reads_bodies = getattr(matches, "needs_bodies", True)
        found: list[FlowRecord] = []
        scanned = matched = 0
        more = False
        walk = self._walk(session_id, flow_filter, order, position, SCAN_BATCH, reads_bodies)
        for record in itertools.chain.from_iterable(walk):
            scanned += 1
            if not matches(record):
                continue
            matched += 1
            if matched <= offset:
                continue
            if len(found) == limit:
                more = True
                break
            found.append(record)
        if position is not None and position.backward:
            found.reverse()
        return found, more, (scanned, matched)

    def _walk(
        self,
        session_id: str,
        flow_filter: FlowFilter,
        order: Order,
        position: Cursor | None,
        size: int,
        with_bodies: bool,
    ) -> Iterator[list[FlowRecord]]:
        """Matching records from `position` on (before it, for a page's `prev`) in `order`,
        `size` at a time by key, no OFFSET; the lock is held only while one batch is read."""
        where, params = flow_filter.where(self.engine.contains)
        backward = position is not None and position.backward
        at = position
        while True:
            after, sort, keys = seek(at, order)
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {FLOW_COLUMNS} FROM flows WHERE session_id = ?{where}{after} "
                    f"ORDER BY {sort} LIMIT ?",
                    [session_id, *params, *keys, size],
                ).fetchall()
                bodies = self._read_bodies([row[0] for row in rows]) if with_bodies else {}
            if rows:
                yield [record_of(row, bodies) for row in rows]
            if len(rows) < size:
                return
            at = Cursor(rows[-1][2], rows[-1][0], order, backward)

    def _total(
        self,
        session_id: str,
        flow_filter: FlowFilter,
        sample: tuple[int, int] | None,
        seen: int,
        more: bool,
    ) -> tuple[int, bool]:
        """The count for a first page, and whether it is an estimate.

        `sample` is set when a mitmproxy expression was tried: on how many flows, and how many
        matched; `seen` is the matches up to the page's end. When the scan reached the session's
        end the count is exact, else the rate seen is applied to every flow the SQL filters let
        by.
        """
        if sample is not None and not more:
            return seen, False
        candidates, estimated = self._candidates(session_id, flow_filter)
        if sample is None:
            return candidates, estimated
        scanned, matched = sample
        return max(seen + 1, round(candidates * matched / max(scanned, 1))), True

    def _candidates(self, session_id: str, flow_filter: FlowFilter) -> tuple[int, bool]:
        """How many flows the SQL filters let by, and whether that is an estimate: the
        counter, an index count up to COUNT_EXACT_MAX, or else the newest sample's share (at
        least what was counted: a host seen only early in a session reads as the cap + 1)."""
        flows = self.count_flows(session_id)
        if flow_filter.empty:
            return flows, False
        if flow_filter.indexed:
            counted = self.count_flows(session_id, flow_filter, at_most=COUNT_EXACT_MAX)
            if counted <= COUNT_EXACT_MAX:
                return counted, False
            return max(counted, self._estimated_count(session_id, flow_filter, flows)), True
        if flows <= COUNT_SAMPLE:
            return self.count_flows(session_id, flow_filter), False
        return self._estimated_count(session_id, flow_filter, flows), True

    def _estimated_count(self, session_id: str, flow_filter: FlowFilter, flows: int) -> int:
        """The share of the newest ESTIMATE_SAMPLE flows that match, times the session's
        `flows`."""
        where, params = flow_filter.where(self.engine.contains)
        with self._lock:
            (sampled,) = self._db.execute(
                "SELECT COUNT(*) FROM (SELECT session_id, method, url, host, status FROM flows "
                "WHERE session_id = ? ORDER BY started_at DESC, id DESC LIMIT ?) AS newest "
                f"WHERE session_id = ?{where}",
                [session_id, ESTIMATE_SAMPLE, session_id, *params],
            ).fetchone()
        return round(flows * sampled / max(min(ESTIMATE_SAMPLE, flows), 1))

    def _read_bodies(self, flow_ids: list[str]) -> dict[tuple[str, str], bytes]:
        return _read_bodies(self._db, flow_ids)

    def get_flow(self, flow_id: str) -> FlowRecord:
        with self._lock:
            row = self._db.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?", (flow_id,)
            ).fetchone()
            if row is None:
                raise FlowNotFound(f"no flow with id {flow_id!r}")
            return record_of(row, self._read_bodies([flow_id]))

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
    def _prune_artifacts(db: Any, type: str, session_id: str | None, keep: int) -> int:
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
    def _insert_artifact(db: Any, artifact: Artifact) -> None:
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

    # Copies from another store (`mitmtape sync`): ids kept, nothing written twice

    def adopt_session(self, session: Session) -> Session:
        """The session with `session`'s id here, made when missing.

        A new copy keeps the id, description and times; when another session holds the name
        here, it takes the first free `{name} (2)`, `{name} (3)`, … The insert skips a taken id
        or name instead of failing, so two processes copying at once never make it twice. An
        existing copy keeps its name; its `updated_at` moves up to the source's if newer.
        """
        updated = format_time(session.updated_at)
        with self._transaction() as db:
            self._insert_copy(db, session)
            db.execute(
                "UPDATE sessions SET updated_at = ? WHERE id = ? AND updated_at < ?",
                (updated, session.id, updated),
            )
        return self.get_session(session.id)

    @staticmethod
    def _insert_copy(db: Any, session: Session) -> None:
        number = 1
        while not db.execute("SELECT 1 FROM sessions WHERE id = ?", (session.id,)).fetchone():
            name = session.name if number == 1 else f"{session.name} ({number})"
            inserted = db.execute(
                "INSERT INTO sessions (id, name, description, created_at, updated_at, active) "
                "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                (
                    session.id,
                    name,
                    session.description,
                    format_time(session.created_at),
                    format_time(session.updated_at),
                ),
            )
            if inserted.rowcount == 1:
                return
            number += 1

    def add_new_flows(self, records: list[FlowRecord]) -> int:
        """Write, in one transaction, the records whose ids are not here yet; how many.

        Records keep their ids, so a copy run twice writes nothing the second time, and a
        flow's bodies are written only with the flow. Records of sessions not here are dropped,
        as `add_flows` drops them. Raises StoreUnavailable as `add_flows` does.
        """
        try:
            try:
                return self._add_new_flows(records)
            except self.engine.integrity_errors:
                # Another copy of the same flows committed between our check and our insert (a
                # server checks against committed rows): a second pass writes what is missing.
                return self._add_new_flows(records)
        except self.engine.unavailable_errors as exc:
            raise StoreUnavailable(f"cannot write to {self.engine.shown}: {exc}") from exc

    def _add_new_flows(self, records: list[FlowRecord]) -> int:
        with self._transaction() as db:
            live = {row[0] for row in db.execute("SELECT id FROM sessions")}
            there = self._flow_ids_here(db, [record.id for record in records])
            fresh = [r for r in records if r.session_id in live and r.id not in there]
            self._insert_rows(db, rows_of(fresh), None)
        return len(fresh)

    def existing_flow_ids(self, flow_ids: list[str]) -> set[str]:
        """Which of these flows are stored (a writer that went away may have committed them)."""
        with self._lock:
            return self._flow_ids_here(self._db, flow_ids)

    @staticmethod
    def _flow_ids_here(db: Any, flow_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in id_chunks(flow_ids):
            rows = db.execute(
                f"SELECT id FROM flows WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update(row[0] for row in rows)
        return found

    def add_new_artifact(self, artifact: Artifact) -> bool:
        """Keep a copied artifact under its own id, unless that id is here; whether it was kept."""
        if artifact.content is None:
            raise StoreError(f"artifact {artifact.title!r} has no content")
        try:
            with self._transaction() as db:
                if db.execute("SELECT 1 FROM artifacts WHERE id = ?", (artifact.id,)).fetchone():
                    return False
                self._insert_artifact(db, artifact)
        except self.engine.integrity_errors:
            return False  # another copy of the same artifact committed first
        return True


def joined_bodies(row: tuple[Any, ...]) -> dict[tuple[str, str], bytes]:
    """The two body columns after a flow row's own, as `record_of` takes bodies."""
    found = {}
    if row[16] is not None:
        found[(row[0], "request")] = bytes(row[16])
    if row[17] is not None:
        found[(row[0], "response")] = bytes(row[17])
    return found


def id_chunks(flow_ids: list[str]) -> Iterator[list[str]]:
    """Ids BODY_QUERY_IDS at a time, for `IN (...)` queries."""
    for start in range(0, len(flow_ids), BODY_QUERY_IDS):
        yield flow_ids[start : start + BODY_QUERY_IDS]


def _read_bodies(db: Any, flow_ids: list[str]) -> dict[tuple[str, str], bytes]:
    """The bodies of these flows, by (flow id, part), a few hundred ids per query."""
    found: dict[tuple[str, str], bytes] = {}
    for chunk in id_chunks(flow_ids):
        rows = db.execute(
            "SELECT flow_id, part, data FROM bodies "
            f"WHERE flow_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        found.update({(flow_id, part): bytes(data) for flow_id, part, data in rows})
    return found


def _artifact_of(row: tuple[Any, ...]) -> Artifact:
    return Artifact(*row[:8], metadata=json.loads(row[8]), created_at=row[9])
