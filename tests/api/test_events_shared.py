"""Live flows across machines: an API server on a shared PostgreSQL database announces the flows
any process commits there, each once, however many ways it hears of them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import psycopg
import pytest

from mitmtape.api import ApiServer
from mitmtape.api.events import FirstTime
from mitmtape.store import Store, open_store
from mitmtape.store.postgres import FLOWS_CHANNEL
from tests.api.test_events import TOKEN, event_stream, next_event
from tests.postgres import fresh_database
from tests.waiting import wait_until

WAIT_SECONDS = 10


@pytest.fixture
def shared_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def test_flows_another_process_commits_reach_the_event_stream(shared_url: str, make_record) -> None:
    here, elsewhere = open_store(shared_url), open_store(shared_url)
    server = ApiServer(here, TOKEN)
    server.start()
    try:
        with event_stream(server) as lines:
            session = elsewhere.active_session()
            records = [make_record(session_id=session.id) for _ in range(3)]
            elsewhere.add_flows(records)
            events = [next_event(lines, "flow.created") for _ in records]
        assert [event["id"] for event in events] == [record.id for record in records]
        assert {event["session_id"] for event in events} == {session.id}
    finally:
        server.stop()
        here.close()
        elsewhere.close()


def test_a_flow_heard_twice_is_announced_once_and_read_once(
    shared_url: str, make_record, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(shared_url)
    read = reads_of(store, monkeypatch)
    server = ApiServer(store, TOKEN)
    server.start()
    try:
        with event_stream(server) as lines:
            first, second = (make_record(session_id=store.active_session().id) for _ in range(2))
            server.publish("flow.created", {"session_id": first.session_id, **first.summary()})
            store.add_flows([first, second])  # NOTIFY names `first` again
            assert next_event(lines, "flow.created")["id"] == first.id
            assert next_event(lines, "flow.created")["id"] == second.id
        assert read == [[second.id]]  # `first` was announced already: its row is not read
    finally:
        server.stop()
        store.close()


def reads_of(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ids of each `flows_by_id` call the store gets from now on."""
    read: list[list[str]] = []
    flows_of = store.flows_by_id
    monkeypatch.setattr(store, "flows_by_id", lambda ids: read.append(ids) or flows_of(ids))
    return read


def listening(url: str) -> bool:
    """Whether a connection to this database has said LISTEN on the flows channel."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query = %s",
            (f"LISTEN {FLOWS_CHANNEL}",),
        ).fetchone()
    return bool(row and row[0])


def test_with_no_stream_open_a_flow_committed_elsewhere_is_not_read(
    shared_url: str, make_record, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every API server hears every flow the team records: reading each one's row with nobody
    watching would cost the database a query per flow per server."""
    here, elsewhere = open_store(shared_url), open_store(shared_url)
    heard_ids = here.committed_flow_ids
    handled: queue.SimpleQueue[list[str]] = queue.SimpleQueue()

    def spied(stop: threading.Event) -> Iterator[list[str]]:
        for flow_ids in heard_ids(stop):
            yield flow_ids
            handled.put(flow_ids)  # the server asks for more once it has dealt with these

    monkeypatch.setattr(here, "committed_flow_ids", spied)
    read = reads_of(here, monkeypatch)
    server = ApiServer(here, TOKEN)
    server.start()
    try:
        wait_until(lambda: listening(shared_url), WAIT_SECONDS, "the server's LISTEN")
        session = elsewhere.active_session()
        unwatched = [make_record(session_id=session.id) for _ in range(3)]
        elsewhere.add_flows(unwatched)
        assert handled.get(timeout=WAIT_SECONDS) == [record.id for record in unwatched]
        with event_stream(server) as lines:
            watched = make_record(session_id=session.id)
            elsewhere.add_flows([watched])
            assert next_event(lines, "flow.created")["id"] == watched.id
        assert read == [[watched.id]]
    finally:
        server.stop()
        here.close()
        elsewhere.close()


def test_a_sqlite_store_has_nothing_to_hear(tmp_path) -> None:
    store = open_store(tmp_path / "tape.db")
    assert list(store.committed_flow_ids(threading.Event())) == []
    store.close()


def test_first_time_says_yes_once_and_forgets_the_oldest_past_its_limit() -> None:
    first_time = FirstTime(kept=2)
    assert [first_time(i) for i in ("a", "a", "b", "c")] == [True, False, True, True]
    assert first_time("a") is True  # "a" was the oldest of three: forgotten
    assert first_time("c") is False
