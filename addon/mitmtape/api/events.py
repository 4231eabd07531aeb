"""Server-Sent Events: `flow.created` and `artifact.created`, fanned out to the open streams of
`GET /api/v1/events` (the handler is `api/stream.py`).

Events are published from any thread (the writer's report thread, import workers) and fanned
out on the API's own loop. Each open stream has a bounded queue: a client that stops reading
loses its stream (it reconnects) instead of holding memory without end.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from typing import Any

from mitmtape.model import FlowRecord

HEARTBEAT_SECONDS = 15.0
EVENT_BACKLOG = 10_000
FLOW_CREATED = "flow.created"
ARTIFACT_CREATED = "artifact.created"
# Sent first so a client knows the stream is open (and subscribed) before any event.
STREAM_OPENED = ": mitmtape events\n\n"
HEARTBEAT = ": heartbeat\n\n"
# How many flow ids a server remembers having announced: the same flow can be reported by the
# proxy's own writer, by an import handler and by a shared database's NOTIFY.
ANNOUNCED_KEPT = 100_000


def flow_created(record: FlowRecord) -> dict[str, Any]:
    """The data of a `flow.created` event: the flow's list columns and its session."""
    return {"session_id": record.session_id, **record.summary()}


def encode_event(event: str, data: dict[str, Any]) -> str:
    """One SSE message; JSON has no raw line breaks, so `data` is a single line."""
    if not event or any(char in event for char in "\r\n:"):
        raise ValueError(f"an event name is one word without line breaks, got {event!r}")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


class EventHub:
    """The open streams. Used only on the API's loop; `deliver(None)` ends a stream."""

    def __init__(self, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat = heartbeat
        self._queues: set[asyncio.Queue[str | None]] = set()

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(EVENT_BACKLOG)
        self._queues.add(queue)
        return queue

    def end(self, queue: asyncio.Queue[str | None]) -> None:
        """Stop one stream: drop what it has not sent yet and wake its handler."""
        self._queues.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    @property
    def listening(self) -> bool:
        """Whether any stream is open; read from any thread (a stream opening meanwhile hears
        what comes after it)."""
        return bool(self._queues)

    def deliver(self, message: str) -> None:
        self.deliver_all([message])

    def deliver_all(self, messages: list[str]) -> None:
        for queue in list(self._queues):
            try:
                for message in messages:
                    queue.put_nowait(message)
            except asyncio.QueueFull:
                self.end(queue)

    def close(self) -> None:
        for queue in list(self._queues):
            self.end(queue)


class FirstTime:
    """Says yes once per flow id (the newest ANNOUNCED_KEPT remembered); thread-safe."""

    def __init__(self, kept: int = ANNOUNCED_KEPT) -> None:
        self.kept = kept
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, flow_id: str) -> bool:
        with self._lock:
            if flow_id in self._seen:
                return False
            self._seen[flow_id] = None
            if len(self._seen) > self.kept:
                self._seen.popitem(last=False)
            return True
