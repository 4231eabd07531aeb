"""Live flows across machines: an API server on a shared PostgreSQL database announces the flows
any process commits there, each once, however many ways it hears of them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mitmtape.api import ApiServer
from mitmtape.api.events import FirstTime
from mitmtape.store import open_store
from tests.api.test_events import TOKEN, event_stream, next_event
from tests.postgres import fresh_database


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


def test_a_flow_heard_twice_is_announced_once(shared_url: str, make_record) -> None:
    store = open_store(shared_url)
    server = ApiServer(store, TOKEN)
    server.start()
    try:
        with event_stream(server) as lines:
            first, second = (make_record(session_id=store.active_session().id) for _ in range(2))
            server.publish("flow.created", {"session_id": first.session_id, **first.summary()})
            store.add_flows([first, second])  # NOTIFY names `first` again
            assert next_event(lines, "flow.created")["id"] == first.id
            assert next_event(lines, "flow.created")["id"] == second.id
    finally:
        server.stop()
        store.close()


def test_a_sqlite_store_has_nothing_to_hear(tmp_path) -> None:
    store = open_store(tmp_path / "tape.db")
    assert list(store.committed_flows(threading.Event())) == []
    store.close()


def test_first_time_says_yes_once_and_forgets_the_oldest_past_its_limit() -> None:
    first_time = FirstTime(kept=2)
    assert [first_time(i) for i in ("a", "a", "b", "c")] == [True, False, True, True]
    assert first_time("a") is True  # "a" was the oldest of three: forgotten
    assert first_time("c") is False
