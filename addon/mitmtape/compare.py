"""Two sessions side by side: which endpoints came, went, changed status or speed.

An endpoint is method + host + path with ids folded to `{id}` (`/users/42` and `/users/97` are
one endpoint), so a before/after capture of the same app lines up even when the data differs.
Only list columns are read: comparing never loads a body, except the deep compare, which also
reads the responses of the endpoints both sessions have (JSON fields, headers, content type,
body size), a few hundred flows at a time.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mitmtape.model import FlowRecord, Response, Session, header_value, media_type
from mitmtape.shapes import (
    NOT_JSON,
    ShapeBuilder,
    field_types,
    fold_path,
    json_value,
    type_names,
)
from mitmtape.store import Store
from mitmtape.text import human_size

# A median response time counts as changed when it moved by this share and this many ms.
SLOWER_RATIO = 0.2
SLOWER_MIN_MS = 10.0


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


def endpoint_of(record: FlowRecord) -> str:
    """`GET api.example.com/users/{id}`: method, host and the path with its ids folded."""
    request = record.request
    return f"{request.method.upper()} {request.host}{fold_path(request.path)}"


def endpoints_of(store: Store, session: Session) -> Endpoints:
    found: Endpoints = {}
    for batch in store.iter_flow_batches(session.id, with_bodies=False):
        for record in batch:
            stats = found.setdefault(endpoint_of(record), EndpointStats())
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
    # What changed inside the responses of common endpoints; None when not asked (`deep`).
    responses: list[dict[str, Any]] | None = None
    # Per replayed request what changed, when B is a client replay of A (else None).
    replayed: list[dict[str, Any]] | None = None

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

        data = {
            "a": side(self.a, self.endpoints_a),
            "b": side(self.b, self.endpoints_b),
            "added": [{"endpoint": k, "flows": self.endpoints_b[k].flows} for k in self.added],
            "removed": [{"endpoint": k, "flows": self.endpoints_a[k].flows} for k in self.removed],
            "status_changed": self.status_changed,
            "slower": slower,
            "faster": faster,
        }
        if self.responses is not None:
            data["responses"] = self.responses
        if self.replayed is not None:
            data["replayed"] = self.replayed
        return data

    def to_text(self) -> str:
        """For people: the counts first, then each list, most telling first."""
        data = self.to_json()
        a, b = data["a"], data["b"]
        lines = [
            f"A  {a['name']}  {a['flows']:,} flows, {a['endpoints']:,} endpoints",
            f"B  {b['name']}  {b['flows']:,} flows, {b['endpoints']:,} endpoints",
            f"   {len(data['added'])} added, {len(data['removed'])} removed, "
            f"{len(data['status_changed'])} status changed, {len(data['slower'])} slower, "
            f"{len(data['faster'])} faster"
            + (f", {len(self.responses)} response changes" if self.responses is not None else ""),
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
        if self.responses is not None:
            section("Responses changed:", [response_change_text(r) for r in self.responses])
        if self.replayed is not None:
            lines.append(f"   B replays A: {len(self.replayed)} replayed requests changed")
            section("Replayed requests changed:", [replay_change_text(r) for r in self.replayed])
        return "\n".join(lines)


def compare_sessions(
    store: Store,
    a_ref: str,
    b_ref: str,
    deep: bool = False,
    ignore: tuple[tuple[str, ...], ...] = (),
) -> Comparison:
    """Compare session A (before) with session B (after), each by id or exact name; `deep`
    also reads the response bodies of the endpoints both have. When B is a client replay of
    A, its requests are paired with A's (`ignore`: JSON paths left out of body compares)."""
    a, b = store.get_session(a_ref), store.get_session(b_ref)
    comparison = Comparison(a, b, endpoints_of(store, a), endpoints_of(store, b))
    comparison.replayed = replay_changes(store, a, b, ignore)
    if deep:
        common = set(comparison.common)
        comparison.responses = response_changes(
            responses_of(store, a, common), responses_of(store, b, common)
        )
    return comparison


# Deep compare: what changed inside the responses of the endpoints both sessions have.
# Bodies are read this many flows at a time, so a session of large bodies stays in bounds.
DEEP_READ_BATCH = 500
# A median response body size counts as changed when it moved by more than this share.
BODY_SIZE_RATIO = 0.2
# Headers whose values are compared too; of the others only presence counts (a `Date` or an
# `ETag` differs on every response). `Content-Type` is compared as the media type.
HEADERS_WITH_VALUES = ("cache-control", "content-encoding")
NO_CONTENT_TYPE = "(none)"
BODY_FIELD = "(body)"


@dataclass(slots=True)
class ResponseShapes:
    """The responses of one endpoint, reduced to what a deep compare looks at."""

    schema: ShapeBuilder = field(default_factory=ShapeBuilder)
    json_bodies: int = 0
    headers: set[str] = field(default_factory=set)
    values: dict[str, Counter[str]] = field(default_factory=dict)
    media: Counter[str] = field(default_factory=Counter)
    sizes: array[int] = field(default_factory=lambda: array("q"))

    def add(self, response: Response) -> None:
        value = json_value(response.body, response.headers)
        if value is not NOT_JSON:
            self.schema.add_object(value)
            self.json_bodies += 1
        for name, text in response.headers:
            lowered = name.lower()
            if lowered == "content-type":
                continue
            self.headers.add(lowered)
            if lowered in HEADERS_WITH_VALUES:
                self.values.setdefault(lowered, Counter())[text.strip()] += 1
        self.media[media_type(header_value(response.headers, "content-type"))] += 1
        self.sizes.append(response.body.size)

    @property
    def content_type(self) -> str:
        return self.media.most_common(1)[0][0] or NO_CONTENT_TYPE

    def value(self, header: str) -> str | None:
        counter = self.values.get(header)
        return counter.most_common(1)[0][0] if counter else None


def responses_of(store: Store, session: Session, endpoints: set[str]) -> dict[str, ResponseShapes]:
    """The response shapes of the given endpoints, read with bodies in small batches."""
    found: dict[str, ResponseShapes] = {}
    batches = store.iter_flow_batches(session.id, batch_size=DEEP_READ_BATCH)
    for batch in batches:
        for record in batch:
            key = endpoint_of(record)
            if record.response is not None and key in endpoints:
                found.setdefault(key, ResponseShapes()).add(record.response)
    return found


def response_changes(
    a: dict[str, ResponseShapes], b: dict[str, ResponseShapes]
) -> list[dict[str, Any]]:
    """Rows of `{endpoint, change, what, a, b}`, endpoint by endpoint, in a stable order."""
    rows: list[dict[str, Any]] = []
    for endpoint in sorted(set(a) & set(b)):
        before, after = a[endpoint], b[endpoint]
        changes = [
            *_field_changes(before, after),
            *_header_changes(before, after),
            *_content_type_change(before, after),
            *_size_change(before, after),
        ]
        rows.extend({"endpoint": endpoint, **change} for change in changes)
    return rows


def _change(kind: str, what: str | None, a: Any, b: Any) -> dict[str, Any]:
    return {"change": kind, "what": what, "a": a, "b": b}


def _field_changes(a: ResponseShapes, b: ResponseShapes) -> list[dict[str, Any]]:
    """JSON fields added, removed or retyped; only when both sides answered JSON (a switch to
    HTML is one content-type change, not every field removed)."""
    if not a.json_bodies or not b.json_bodies:
        return []
    before, after = _fields(a.schema.schema()), _fields(b.schema.schema())
    changes = [_change("field_removed", path, kind, None) for path, kind in before.items()]
    changes = [c for c in changes if c["what"] not in after]
    changes += [_change("field_added", p, None, k) for p, k in after.items() if p not in before]
    changes += [
        _change("field_type_changed", path, kind, after[path])
        for path, kind in before.items()
        if path in after and after[path] != kind
    ]
    return sorted(changes, key=lambda c: (c["what"], c["change"]))


def _fields(schema: dict[str, Any]) -> dict[str, str]:
    """Each field and its type, the body itself as `(body)` (an object that became a list)."""
    return {BODY_FIELD: "|".join(sorted(type_names(schema))), **field_types(schema)}


def _header_changes(a: ResponseShapes, b: ResponseShapes) -> list[dict[str, Any]]:
    changes = [
        _change("header_removed", name, None, None) for name in sorted(a.headers - b.headers)
    ]
    changes += [_change("header_added", name, None, None) for name in sorted(b.headers - a.headers)]
    for name in HEADERS_WITH_VALUES:
        before, after = a.value(name), b.value(name)
        if before is not None and after is not None and before != after:
            changes.append(_change("header_changed", name, before, after))
    return changes


def _content_type_change(a: ResponseShapes, b: ResponseShapes) -> list[dict[str, Any]]:
    if a.content_type == b.content_type:
        return []
    return [_change("content_type_changed", None, a.content_type, b.content_type)]


def _size_change(a: ResponseShapes, b: ResponseShapes) -> list[dict[str, Any]]:
    before, after = statistics.median(a.sizes), statistics.median(b.sizes)
    moved = after != before if before == 0 else abs(after - before) > before * BODY_SIZE_RATIO
    return [_change("body_size_changed", None, before, after)] if moved else []


RESPONSE_CHANGE_TEXT = {
    "field_added": "field added: {what} ({b})",
    "field_removed": "field removed: {what} ({a})",
    "field_type_changed": "field type changed: {what}  {a} → {b}",
    "header_added": "header added: {what}",
    "header_removed": "header removed: {what}",
    "header_changed": "header changed: {what}  {a} → {b}",
    "content_type_changed": "content type changed: {a} → {b}",
}


def response_change_text(row: dict[str, Any]) -> str:
    """One row for people: `GET api/users/{id}  field removed: email (string)`."""
    if row["change"] == "body_size_changed":
        a, b = row["a"], row["b"]
        detail = f"median body size: {human_size(a)} → {human_size(b)}"
    else:
        detail = RESPONSE_CHANGE_TEXT[row["change"]].format(**row)
    return f"{row['endpoint']}  {detail}"


# Replays: a flow recorded by a client replay keeps the id of the flow it replays in its
# metadata (`replay_of`), so compare pairs them request by request. The replay side is
# looked at without bodies first; bodies are read only when B replays flows of A.
REPLAY_OF = "replay_of"
# One request's time counts as changed when it moved by SLOWER_RATIO and this many ms: a
# single request is noisier than an endpoint's median.
REPLAY_TIME_MIN_MS = 50.0


def ignore_paths(text: str) -> tuple[tuple[str, ...], ...]:
    """`timestamp,meta.requestId` (option `tape_replay_ignore`) as key paths."""
    paths = [part.strip() for part in text.split(",") if part.strip()]
    for path in paths:
        if any(not key for key in path.split(".")):
            raise ValueError(f"{path!r} is not a JSON path such as meta.requestId")
    return tuple(tuple(path.split(".")) for path in paths)


def _without(value: Any, path: tuple[str, ...]) -> Any:
    """The JSON value with the key at `path` dropped; a list applies the path to each item."""
    if isinstance(value, list):
        return [_without(item, path) for item in value]
    if not isinstance(value, dict) or not path:
        return value
    head, rest = path[0], path[1:]
    if not rest:
        return {key: item for key, item in value.items() if key != head}
    return {key: _without(item, rest) if key == head else item for key, item in value.items()}


@dataclass(frozen=True, slots=True)
class Answer:
    """What a replay is compared on: status, time, body size and a hash of the body (of its
    JSON, key order aside and ignored fields dropped, when it is JSON). The time is the wait
    for the answer where known: a replay opens a connection per request, a recording may
    have reused one, and connecting is not what a regression run measures."""

    request: str
    status: int
    duration_ms: float | None
    size: int
    digest: str


def answer_of(record: FlowRecord, ignore: tuple[tuple[str, ...], ...]) -> Answer:
    request = record.request
    label = f"{request.method.upper()} {request.host}{request.path}"
    response = record.response
    timings = record.timings
    waited = timings.wait / 1000 if timings is not None and timings.wait >= 0 else None
    took = record.duration_ms if waited is None else waited
    if response is None:
        return Answer(label, 0, took, 0, "")
    value = json_value(response.body, response.headers)
    if value is NOT_JSON:
        content = response.body.data
    else:
        for path in ignore:
            value = _without(value, path)
        content = json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha256(content).hexdigest()
    return Answer(label, response.status, took, response.body.size, digest)


def _replayed_ids(store: Store, replay: Session) -> set[str]:
    return {
        str(record.metadata[REPLAY_OF])
        for batch in store.iter_flow_batches(replay.id, with_bodies=False)
        for record in batch
        if record.metadata.get(REPLAY_OF)
    }


def replay_changes(
    store: Store, original: Session, replay: Session, ignore: tuple[tuple[str, ...], ...] = ()
) -> list[dict[str, Any]] | None:
    """Per replayed request what changed (status, body, slower or faster), in the original's
    order; None when `replay` replays no flow of `original`."""
    wanted = _replayed_ids(store, replay)
    if not wanted:
        return None
    before: dict[str, Answer] = {}
    for batch in store.iter_flow_batches(original.id, batch_size=DEEP_READ_BATCH):
        before.update((r.id, answer_of(r, ignore)) for r in batch if r.id in wanted)
    if not before:
        return None
    changes: list[dict[str, Any]] = []
    for batch in store.iter_flow_batches(replay.id, batch_size=DEEP_READ_BATCH):
        for record in batch:
            then = before.get(str(record.metadata.get(REPLAY_OF)))
            if then is not None:
                row = _answer_change(then, answer_of(record, ignore))
                if row:
                    changes.append({"request": then.request, "flow": record.id, **row})
    return changes


def _answer_change(a: Answer, b: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if a.status != b.status:
        row["status"] = {"a": a.status, "b": b.status}
    if a.digest != b.digest:
        row["body"] = {"size_a": a.size, "size_b": b.size, "sha256_a": a.digest,
                       "sha256_b": b.digest}  # fmt: skip
    if a.duration_ms is not None and b.duration_ms is not None:
        moved = abs(b.duration_ms - a.duration_ms) >= REPLAY_TIME_MIN_MS
        if moved and b.duration_ms > a.duration_ms * (1 + SLOWER_RATIO):
            row["slower"] = {"ms_a": a.duration_ms, "ms_b": b.duration_ms}
        elif moved and b.duration_ms < a.duration_ms * (1 - SLOWER_RATIO):
            row["faster"] = {"ms_a": a.duration_ms, "ms_b": b.duration_ms}
    return row


def replay_change_text(row: dict[str, Any]) -> str:
    """`GET api/users/7  status 200 → 500; body 120 B → 31 B; slower 2.0 ms → 310.4 ms`."""
    parts = []
    if "status" in row:
        parts.append(f"status {row['status']['a']} → {row['status']['b']}")
    if "body" in row:
        body = row["body"]
        sizes = f"{human_size(body['size_a'])} → {human_size(body['size_b'])}"
        parts.append(f"body {sizes}" if body["size_a"] != body["size_b"] else "body changed")
    for kind in ("slower", "faster"):
        if kind in row:
            parts.append(f"{kind} {row[kind]['ms_a']:.1f} ms → {row[kind]['ms_b']:.1f} ms")
    return f"{row['request']}  {'; '.join(parts)}"
