"""Retention: old flows deleted in short batches, and the space given back.

A team store grows by about a million flows a week. `prune` deletes in batches of PRUNE_BATCH,
each its own transaction that also takes the flows off their session's counters, so a proxy
recording meanwhile waits at most one batch for the write lock and loses nothing. `vacuum` hands
the freed pages back to the file system (SQLite) or to the server's free space map (PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mitmtape.model import format_time
from mitmtape.store import counters

# Flows deleted per transaction: ~50 ms of lock on SQLite, short enough for a recording writer.
PRUNE_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune deleted: flows per session name, and the empty sessions it removed."""

    before: datetime
    flows: dict[str, int]
    sessions_removed: list[str]

    @property
    def flow_count(self) -> int:
        return sum(self.flows.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "before": format_time(self.before),
            "flows": self.flow_count,
            "sessions": self.flows,
            "sessions_removed": self.sessions_removed,
        }


@dataclass(frozen=True, slots=True)
class VacuumResult:
    size_before: int
    size_after: int

    def to_json(self) -> dict[str, int]:
        return {"size_before": self.size_before, "size_after": self.size_after}


class Retention:
    """The store's prune and vacuum (mixed into Store, whose transactions they use)."""

    # Provided by Store.
    _lock: threading.RLock
    _db: Any
    _transaction: Callable[[], AbstractContextManager[Any]]
    engine: Any  # the store's Engine (its `size` and `vacuum`)

    def _session_rows(self, session_id: str | None) -> list[tuple[str, str]]:
        query = "SELECT id, name FROM sessions"
        with self._lock:
            if session_id is None:
                return self._db.execute(query + " ORDER BY created_at, id").fetchall()
            return self._db.execute(query + " WHERE id = ?", (session_id,)).fetchall()

    def prune(
        self,
        before: datetime,
        session_id: str | None = None,
        empty_sessions: bool = False,
        batch: int = PRUNE_BATCH,
    ) -> PruneResult:
        """Delete the flows that started before `before` (of one session, or all), a batch per
        transaction; with `empty_sessions`, then the sessions left without flows that nobody
        has written to since `before` (never the active one).

        Stopped between batches (Ctrl-C), what was deleted stays deleted and counted; stopped
        inside one, that batch is rolled back whole.
        """
        cutoff = format_time(before)
        flows: dict[str, int] = {}
        for sid, name in self._session_rows(session_id):
            for deleted in self._prune_session(sid, cutoff, batch):
                flows[name] = flows.get(name, 0) + deleted
        removed = self._remove_empty(session_id, cutoff) if empty_sessions else []
        return PruneResult(before, flows, removed)

    def _prune_session(self, session_id: str, cutoff: str, batch: int) -> Iterator[int]:
        while True:
            with self._transaction() as db:
                rows = db.execute(
                    "SELECT id, request_size + response_size FROM flows "
                    "WHERE session_id = ? AND started_at < ? ORDER BY started_at, id LIMIT ?",
                    (session_id, cutoff, batch),
                ).fetchall()
                if not rows:
                    return
                ids = [row[0] for row in rows]
                db.execute(f"DELETE FROM flows WHERE id IN ({', '.join('?' * len(ids))})", ids)
                db.execute(counters.TAKE, (len(rows), sum(row[1] for row in rows), session_id))
                db.execute(counters.TIMES, (session_id,))
            yield len(rows)

    def _remove_empty(self, session_id: str | None, cutoff: str) -> list[str]:
        scope, params = ("", []) if session_id is None else (" AND id = ?", [session_id])
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, name FROM sessions WHERE flow_count = 0 AND active = 0 "
                f"AND updated_at < ?{scope} ORDER BY created_at, id",
                [cutoff, *params],
            ).fetchall()
            for sid, _ in rows:
                # Still empty at the moment of deleting (a writer may have just added a flow).
                db.execute("DELETE FROM sessions WHERE id = ? AND flow_count = 0", (sid,))
        return [name for _, name in rows]

    def vacuum(self) -> VacuumResult:
        """Give the space of deleted rows back; the sizes before and after, in bytes."""
        with self._lock:
            before = self.engine.size(self._db)
            self.engine.vacuum(self._db)
            return VacuumResult(before, self.engine.size(self._db))
