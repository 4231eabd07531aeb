"""A session's records as flows for mitmproxy's own replay addons (`serverplayback`,
`clientplayback`), and what ties a replayed flow back to the record it replays.

Every door that replays (the addon's `tape.replay.*` commands, `mitmtape mock`,
`mitmtape replay`) builds its flows here, so a body that was not recorded is sent or served
the same way everywhere: empty, with headers that say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from mitmproxy import http
from mitmproxy import io as mitmproxy_io

from mitmtape.capture.record import record_to_flow
from mitmtape.model import Body, FlowRecord, Session
from mitmtape.store import Store

# The export cap: a replay loads at most this many flows of a session.
REPLAY_CAP = 100_000
# In a client-replayed flow's metadata: the session its answer is recorded into. In the
# recorded replay's metadata: the id of the record it replays (what compare pairs by).
REPLAY_INTO = "mitmtape_replay_into"
REPLAY_OF = "replay_of"
# Where `record_to_flow` puts the record's id in the flow's metadata.
RECORD_ID = "mitmtape_id"
# Headers that describe a body which is not there when it was not recorded.
BODY_HEADERS = ("content-length", "content-encoding", "transfer-encoding")
TARGET_SCHEMES = ("http", "https")


class ReplayError(ValueError):
    """A replay that cannot start; the message names the value that was wrong."""


def replay_session_name(name: str, moment: datetime) -> str:
    """`{name} (replay {YYYY-MM-DD HHMMSS})`, in local time as a person reads it."""
    return f"{name} (replay {moment.astimezone().strftime('%Y-%m-%d %H%M%S')})"


def records_of(
    store: Store, session: Session, matches: Callable[[FlowRecord], bool] | None = None
) -> Iterator[FlowRecord]:
    """The session's records oldest first (the order they were made), at most REPLAY_CAP."""
    taken = 0
    for batch in store.iter_flow_batches(session.id):
        for record in batch:
            if matches is not None and not matches(record):
                continue
            if taken >= REPLAY_CAP:
                return
            taken += 1
            yield record


def _make_headers_true(message: http.Message, body: Body) -> None:
    """A body that was not recorded goes out empty, and its headers must not promise more."""
    if body.omitted is None:
        return
    for name in BODY_HEADERS:
        message.headers.pop(name, None)
    message.headers["content-length"] = "0"
    message.raw_content = b""


def served_flow(record: FlowRecord) -> http.HTTPFlow | None:
    """The flow `serverplayback` answers from, or None for a record without a response."""
    if record.response is None:
        return None
    flow = record_to_flow(record)
    _make_headers_true(flow.request, record.request.body)
    assert flow.response is not None
    _make_headers_true(flow.response, record.response.body)
    return flow


def check_target(target: str) -> tuple[str, str, int] | None:
    """`http://127.0.0.1:9000` as (scheme, host, port); empty means the recorded hosts."""
    if not target:
        return None
    parts = urlsplit(target)
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if parts.scheme not in TARGET_SCHEMES or not parts.hostname:
        raise ReplayError(
            f"replay target must be a URL such as http://127.0.0.1:9000, not {target!r}"
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def replay_flow(
    record: FlowRecord, into: str, target: tuple[str, str, int] | None = None
) -> http.HTTPFlow | None:
    """The flow `clientplayback` re-sends, or None for one it cannot (a WebSocket).

    Its answer is recorded into session `into`; `target` sends it to another scheme, host and
    port (mitmproxy then updates the Host header, as a client of that server would send it).
    """
    if record.websocket is not None:
        return None
    flow = record_to_flow(record)
    flow.response = None
    flow.error = None
    _make_headers_true(flow.request, record.request.body)
    if target is not None:
        flow.request.scheme, flow.request.host, flow.request.port = target
    flow.metadata[REPLAY_INTO] = into
    return flow


def write_replay_file(
    records: Iterable[FlowRecord],
    into: str,
    target: tuple[str, str, int] | None,
    out: BinaryIO,
) -> tuple[int, int]:
    """A flow file for `mitmdump -C` whose answers the addon records into `into`; returns
    how many flows it holds and how many could not be replayed (WebSockets)."""
    writer = mitmproxy_io.FlowWriter(out)
    sent = not_sent = 0
    for record in records:
        flow = replay_flow(record, into, target)
        if flow is None:
            not_sent += 1
            continue
        writer.add(flow)
        sent += 1
    return sent, not_sent
