"""Two sessions side by side: which endpoints came, went, changed status or speed.

An endpoint is method + host + path with ids folded to `{id}` (`/users/42` and `/users/97` are
one endpoint), so a before/after capture of the same app lines up even when the data differs.
Only list columns are read: comparing never loads a body.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mitmtape.model import Session
from mitmtape.store import Store

ID_SEGMENT = re.compile(
    r"""^(
        \d+                                                    # 42
      | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  # UUID
      | [0-7][0-9a-hjkmnp-tv-z]{25}                            # ULID
      | [0-9a-f]{16,}                                          # hashes, object ids
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
ID = "{id}"
# A median response time counts as changed when it moved by this share and this many ms.
SLOWER_RATIO = 0.2
SLOWER_MIN_MS = 10.0


def fold_path(path: str) -> str:
    """`/users/42/orders/01HW...` → `/users/{id}/orders/{id}`."""
    return "/".join(ID if ID_SEGMENT.match(part) else part for part in path.split("/"))


@dataclass(slots=True)
class EndpointStats:
    flows: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The most common status (0: no response)."""
        return self.statuses.most_common(1)[0][0]

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None


Endpoints = dict[str, EndpointStats]


def endpoints_of(store: Store, session: Session) -> Endpoints:
    found: Endpoints = {}
    for batch in store.iter_flow_batches(session.id, with_bodies=False):
        for record in batch:
            request = record.request
            key = f"{request.method.upper()} {request.host}{fold_path(request.path)}"
            stats = found.setdefault(key, EndpointStats())
            stats.flows += 1
            stats.statuses[record.status] += 1
            if record.duration_ms is not None:
                stats.durations.append(record.duration_ms)
    return found


@dataclass(slots=True)
class Comparison:
    a: Session
    b: Session
    endpoints_a: Endpoints
    endpoints_b: Endpoints

    @property
    def added(self) -> list[str]:
        return sorted(set(self.endpoints_b) - set(self.endpoints_a))

    @property
    def removed(self) -> list[str]:
        return sorted(set(self.endpoints_a) - set(self.endpoints_b))

    @property
    def common(self) -> list[str]:
        return sorted(set(self.endpoints_a) & set(self.endpoints_b))

    @property
    def status_changed(self) -> list[dict[str, Any]]:
        return [
            {"endpoint": key, "status_a": a.status, "status_b": b.status}
            for key, a, b in self._pairs()
            if a.status != b.status
        ]

    def timing_changes(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Endpoints whose median time grew (slower) or shrank (faster) beyond the threshold."""
        slower, faster = [], []
        for key, a, b in self._pairs():
            before, after = a.median_ms, b.median_ms
            if before is None or after is None or abs(after - before) < SLOWER_MIN_MS:
                continue
            change = {"endpoint": key, "median_ms_a": before, "median_ms_b": after}
            if after > before * (1 + SLOWER_RATIO):
                slower.append(change)
            elif after < before * (1 - SLOWER_RATIO):
                faster.append(change)
        slower.sort(key=lambda c: c["median_ms_b"] - c["median_ms_a"], reverse=True)
        faster.sort(key=lambda c: c["median_ms_a"] - c["median_ms_b"], reverse=True)
        return slower, faster

    def _pairs(self) -> list[tuple[str, EndpointStats, EndpointStats]]:
        return [(key, self.endpoints_a[key], self.endpoints_b[key]) for key in self.common]

    def to_json(self) -> dict[str, Any]:
        slower, faster = self.timing_changes()

        def side(session: Session, endpoints: Endpoints) -> dict[str, Any]:
            return {
                "id": session.id,
                "name": session.name,
                "flows": sum(stats.flows for stats in endpoints.values()),
                "endpoints": len(endpoints),
            }

        return {
            "a": side(self.a, self.endpoints_a),
            "b": side(self.b, self.endpoints_b),
            "added": [{"endpoint": k, "flows": self.endpoints_b[k].flows} for k in self.added],
            "removed": [{"endpoint": k, "flows": self.endpoints_a[k].flows} for k in self.removed],
            "status_changed": self.status_changed,
            "slower": slower,
            "faster": faster,
        }

    def to_text(self) -> str:
        """For people: the counts first, then each list, most telling first."""
        data = self.to_json()
        a, b = data["a"], data["b"]
        lines = [
            f"A  {a['name']}  {a['flows']:,} flows, {a['endpoints']:,} endpoints",
            f"B  {b['name']}  {b['flows']:,} flows, {b['endpoints']:,} endpoints",
            f"   {len(data['added'])} added, {len(data['removed'])} removed, "
            f"{len(data['status_changed'])} status changed, {len(data['slower'])} slower, "
            f"{len(data['faster'])} faster",
        ]

        def section(title: str, rows: list[str]) -> None:
            if rows:
                lines.extend(["", title, *(f"  {row}" for row in rows)])

        section("Added (only in B):", [f"+ {r['endpoint']}  ({r['flows']})" for r in data["added"]])
        section(
            "Removed (only in A):", [f"- {r['endpoint']}  ({r['flows']})" for r in data["removed"]]
        )
        section(
            "Status changed:",
            [f"{r['endpoint']}  {r['status_a']} → {r['status_b']}" for r in data["status_changed"]],
        )
        for title, rows in (("Slower", data["slower"]), ("Faster", data["faster"])):
            section(
                f"{title} (median response time):",
                [
                    f"{r['endpoint']}  {r['median_ms_a']:.1f} ms → {r['median_ms_b']:.1f} ms"
                    for r in rows
                ],
            )
        return "\n".join(lines)


def compare_sessions(store: Store, a_ref: str, b_ref: str) -> Comparison:
    """Compare session A (before) with session B (after), each by id or exact name."""
    a, b = store.get_session(a_ref), store.get_session(b_ref)
    return Comparison(a, b, endpoints_of(store, a), endpoints_of(store, b))
