"""Server-Sent Events: what is published reaches every open stream, from any thread."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from mitmtape.api.events import FLOW_CREATED, encode_event, flow_created
from mitmtape.api.server import ApiServer
from mitmtape.model import FlowRecord, Session
from mitmtape.store import Store
from tests.api.conftest import AUTH, SAMPLES, TOKEN

WAIT_SECONDS = 10


@contextmanager
def event_stream(server: ApiServer) -> Iterator[queue.Queue[str]]:
    """The stream's lines, read on a thread; yields once the stream is open."""
    lines: queue.Queue[str] = queue.Queue()
    opened = threading.Event()
    client = httpx.Client(base_url=server.url, headers=AUTH, timeout=WAIT_SECONDS)

    def read() -> None:
        try:
            with client.stream("GET", "/api/v1/events") as response:
                lines.put(f"status {response.status_code} {response.headers['Content-Type']}")
                for line in response.iter_lines():
                    lines.put(line)
                    opened.set()
        except httpx.HTTPError:
            pass
        finally:
            lines.put("<closed>")
            opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(WAIT_SECONDS)
    try:
        yield lines
    finally:
        client.close()


def next_event(lines: queue.Queue[str], name: str) -> dict[str, Any]:
    """The data of the next event called `name`; comments and other events are passed over."""
    while True:
        line = lines.get(timeout=WAIT_SECONDS)
        assert line != "<closed>"
        if line == f"event: {name}":
            data = lines.get(timeout=WAIT_SECONDS)
            assert data.startswith("data: ")
            return json.loads(data.removeprefix("data: "))


def test_the_stream_opens_with_a_comment(server: ApiServer) -> None:
    with event_stream(server) as lines:
        assert lines.get(timeout=WAIT_SECONDS) == "status 200 text/event-stream; charset=utf-8"
        assert lines.get(timeout=WAIT_SECONDS) == ": mitmtape events"


def test_a_published_event_reaches_every_stream(server: ApiServer, rich_record: FlowRecord) -> None:
    with event_stream(server) as first, event_stream(server) as second:
        data = flow_created(rich_record)
        threading.Thread(target=server.publish, args=("flow.created", data)).start()
        assert next_event(first, "flow.created") == data
        assert next_event(second, "flow.created") == data
        assert data["session_id"] == rich_record.session_id
        assert data["url"] == rich_record.request.url


def test_a_batch_of_flows_reaches_a_stream_in_order_each_once(
    server: ApiServer, make_record
) -> None:
    records = [make_record(session_id="S") for _ in range(3)]
    with event_stream(server) as lines:
        summaries = [flow_created(record) for record in records]
        server.publish_flows([*summaries, summaries[0]])  # the same flow heard twice
        server.publish(FLOW_CREATED, flow_created(make_record(session_id="S", url="http://end/")))
        heard = [next_event(lines, FLOW_CREATED) for _ in range(4)]
    assert heard[:3] == summaries
    assert heard[3]["url"] == "http://end/"


def test_with_no_stream_open_a_batch_is_not_even_read(server: ApiServer, make_record) -> None:
    """The writer reports every committed batch: nobody listening costs the proxy nothing."""
    read: list[int] = []

    def summaries() -> Iterator[dict[str, Any]]:
        read.append(1)
        yield flow_created(make_record(session_id="S"))

    server.publish_flows(summaries())
    assert read == []
    with event_stream(server) as lines:
        server.publish_flows(summaries())
        assert next_event(lines, FLOW_CREATED)["session_id"] == "S"
    assert read == [1]


def test_what_is_published_while_the_server_is_stopped_reaches_no_stream(
    store: Store,
) -> None:
    api = ApiServer(store, TOKEN)
    api.publish("flow.created", {"when": "before start"})
    api.start()
    try:
        with event_stream(api) as lines:
            api.publish("flow.created", {"when": "while serving"})
            assert next_event(lines, "flow.created") == {"when": "while serving"}
    finally:
        api.stop()
    api.publish("flow.created", {"when": "after stop"})  # no loop to hand it to: nothing


def test_an_export_publishes_artifact_created(
    server: ApiServer, client: httpx.Client, session: Session, store: Store
) -> None:
    with event_stream(server) as lines:
        response = client.get(f"/api/v1/sessions/{session.id}/export/csv")
        data = next_event(lines, "artifact.created")
    assert data == store.get_artifact(response.headers["X-Mitmtape-Artifact"]).to_json()


def test_an_import_publishes_flow_created_for_each_flow(
    server: ApiServer, client: httpx.Client, session: Session
) -> None:
    with event_stream(server) as lines:
        har = (SAMPLES / "chromium-playwright.har").read_bytes()
        client.post(f"/api/v1/sessions/{session.id}/import/har", content=har)
        events = [next_event(lines, "flow.created") for _ in range(9)]
    assert {event["session_id"] for event in events} == {session.id}
    assert {event["source"] for event in events} == {"import"}


def test_a_quiet_stream_gets_heartbeats(store: Store) -> None:
    api = ApiServer(store, TOKEN, heartbeat=0.05)
    api.start()
    try:
        with event_stream(api) as lines:
            seen = [lines.get(timeout=WAIT_SECONDS) for _ in range(5)]
        assert seen[1:] == [": mitmtape events", "", ": heartbeat", ""]
    finally:
        api.stop()


def test_stopping_the_server_ends_open_streams(store: Store) -> None:
    api = ApiServer(store, TOKEN)
    api.start()
    with event_stream(api) as lines:
        api.stop()
        while (line := lines.get(timeout=WAIT_SECONDS)) != "<closed>":
            assert not line.startswith("event:")


@pytest.mark.parametrize("name", ["", "two\nlines", "a:b"])
def test_an_event_name_must_be_one_word(name: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        encode_event(name, {})


def test_an_event_is_one_sse_message() -> None:
    assert encode_event("flow.created", {"url": "a\nb"}) == (
        'event: flow.created\ndata: {"url":"a\\nb"}\n\n'
    )
