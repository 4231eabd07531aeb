"""The schema every engine creates and migrates: tables, indexes, and their columns.

Written in portable SQL with SQLite's type names (TEXT, INTEGER, REAL, BLOB); an engine module
maps the few names its database spells differently. A migration is a tuple of statements run
in one transaction; `schema_version` records how many have run.
"""

from __future__ import annotations

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
    (
        # Session counters, kept by every write and delete in its own transaction, so listing
        # sessions reads one row each instead of counting every flow.
        "ALTER TABLE sessions ADD COLUMN flow_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN first_flow_at TEXT",
        "ALTER TABLE sessions ADD COLUMN last_flow_at TEXT",
        """UPDATE sessions SET
            flow_count = (SELECT COUNT(*) FROM flows WHERE session_id = sessions.id),
            total_size = (SELECT COALESCE(SUM(request_size + response_size), 0)
                          FROM flows WHERE session_id = sessions.id),
            first_flow_at = (SELECT MIN(started_at) FROM flows WHERE session_id = sessions.id),
            last_flow_at = (SELECT MAX(started_at) FROM flows WHERE session_id = sessions.id)""",
        # No query reads by source or by size; every insert paid for both.
        "DROP INDEX flows_by_source",
        "DROP INDEX flows_sizes",
        # A filtered page is read in time order from its filter's index (only flows of the
        # same start time sorted by id, as they come); a status range sorts its matches when
        # they are few and walks flows_by_time when they are many (Store.page_flows).
        "DROP INDEX flows_by_method",
        "DROP INDEX flows_by_host",
        "CREATE INDEX flows_by_method ON flows (session_id, method, started_at)",
        "CREATE INDEX flows_by_host ON flows (session_id, host, started_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

FLOW_COLUMNS = (
    "id, session_id, started_at, duration_ms, source, method, url, host, path, status, "
    "request_size, response_size, content_type, tags, error, record"
)
SESSION_COLUMNS = (
    "id, name, description, created_at, updated_at, active, "
    "flow_count, total_size, first_flow_at, last_flow_at"
)
ARTIFACT_COLUMNS = (
    "id, type, session_id, title, summary, file_name, media_type, size, metadata, created_at"
)
