"""The simple flow filters of spec section 3, as SQL conditions every engine runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """Method, URL substring, host and status range; empty fields filter nothing."""

    method: str | None = None
    url: str | None = None
    host: str | None = None
    status_min: int | None = None
    status_max: int | None = None

    def where(
        self, contains: Callable[[str], str], status_by_time: bool = False
    ) -> tuple[str, list[Any]]:
        """SQL conditions (each after ` AND `) and their parameters; `contains(column)` is the
        engine's substring test. `status_by_time` writes the status test as `+status`, which
        no index serves (both engines), so the planner walks the time index instead."""
        status = "+status" if status_by_time else "status"
        clauses: list[str] = []
        params: list[Any] = []
        if self.method:
            clauses.append("method = ?")
            params.append(self.method.upper())
        if self.url:
            clauses.append(contains("url"))
            params.append(self.url)
        if self.host:
            clauses.append("host = ?")
            params.append(self.host.lower())
        if self.status_min is not None:
            clauses.append(f"{status} >= ?")
            params.append(self.status_min)
        if self.status_max is not None:
            clauses.append(f"{status} <= ?")
            params.append(self.status_max)
        return "".join(f" AND {clause}" for clause in clauses), params

    @property
    def indexed(self) -> bool:
        """Whether every condition has an index to count by (a URL substring has none)."""
        return not self.url

    @property
    def empty(self) -> bool:
        """Whether it filters nothing (the session's counters then hold the count)."""
        return not (self.method or self.url or self.host) and (
            self.status_min is None and self.status_max is None
        )


NO_FILTER = FlowFilter()
