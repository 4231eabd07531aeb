"""Session counters: what a batch of writes adds to its sessions' rows, in the same transaction.

Each session row keeps `flow_count`, `total_size` and its first and last flow time, so listing
sessions reads one row each at any store size. Additions are relative (`flow_count + ?`), so two
processes writing to one session on a server both count; rows are updated in id order, so two
such transactions never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ADD = """
    UPDATE sessions SET
        flow_count = flow_count + ?,
        total_size = total_size + ?,
        first_flow_at = CASE WHEN first_flow_at IS NULL OR first_flow_at > ?
                             THEN ? ELSE first_flow_at END,
        last_flow_at = CASE WHEN last_flow_at IS NULL OR last_flow_at < ?
                            THEN ? ELSE last_flow_at END,
        updated_at = CASE WHEN ? = 1 THEN ? ELSE updated_at END
    WHERE id = ?
"""
# After flows are deleted: the times are read back from the time index (two seeks a session).
TIMES = """
    UPDATE sessions SET
        first_flow_at = (SELECT MIN(started_at) FROM flows WHERE session_id = sessions.id),
        last_flow_at = (SELECT MAX(started_at) FROM flows WHERE session_id = sessions.id)
    WHERE id = ?
"""
TAKE = "UPDATE sessions SET flow_count = flow_count - ?, total_size = total_size - ? WHERE id = ?"


def additions(rows: Iterable[Sequence[Any]], touched_at: str | None) -> list[tuple[Any, ...]]:
    """ADD's parameters for each session the flow rows (in FLOW_COLUMNS order) belong to;
    `touched_at` (a time) also moves the sessions' `updated_at`, None leaves it (a copy keeps
    its source's)."""
    sums: dict[str, list[Any]] = {}
    for row in rows:
        session_id, started = row[1], row[2]
        size = row[10] + row[11]
        found = sums.get(session_id)
        if found is None:
            sums[session_id] = [1, size, started, started]
            continue
        found[0] += 1
        found[1] += size
        found[2] = min(found[2], started)
        found[3] = max(found[3], started)
    touch = 0 if touched_at is None else 1
    return [
        (count, size, first, first, last, last, touch, touched_at, session_id)
        for session_id, (count, size, first, last) in sorted(sums.items())
    ]
