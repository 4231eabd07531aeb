"""The numbers at the top of the report, gathered in one pass over the records."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from mitmtape.model import FlowRecord

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "none", "other")

STATUS_LABELS = {"none": "no response", "other": "other"}

# Classes the summary always lists (the spec's), even at zero; the others only when present.
STATUS_CLASSES_SHOWN = ("2xx", "3xx", "4xx", "5xx", "none")


def status_class(record: FlowRecord) -> str:
    if record.response is None:
        return "none"
    status = record.response.status
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def duration_of(record: FlowRecord) -> float | None:
    """The flow's duration, or None when unknown or not a number (an import can hold NaN)."""
    ms = record.duration_ms
    return ms if ms is not None and math.isfinite(ms) else None


def is_error(record: FlowRecord) -> bool:
    """The spec's errors: failed flows (an error or no response) and 5xx responses."""
    return record.error is not None or record.response is None or record.status >= 500


@dataclass(slots=True)
class Summary:
    """The numbers at the top of the report, gathered in one pass over the records."""

    flows: int = 0
    bytes: int = 0
    errors: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    hosts: set[str] = field(default_factory=set)
    durations: list[float] = field(default_factory=list)

    def add(self, record: FlowRecord) -> None:
        self.flows += 1
        self.bytes += record.request_size + record.response_size
        self.errors += is_error(record)
        self.methods[record.request.method] += 1
        self.statuses[status_class(record)] += 1
        self.hosts.add(record.request.host)
        if (ms := duration_of(record)) is not None:
            self.durations.append(ms)

    def status_counts(self) -> list[tuple[str, str, int]]:
        """(class, label, count) for the spec's classes and any other class present."""
        return [
            (name, STATUS_LABELS.get(name, name), self.statuses[name])
            for name in STATUS_CLASSES
            if name in STATUS_CLASSES_SHOWN or self.statuses[name]
        ]

    def percentile(self, share: float) -> float | None:
        if not self.durations:
            return None
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
