from __future__ import annotations

import pytest

from mitmtape.compare import REPLAY_OF, REPLAY_TIME_MIN_MS, compare_sessions, ignore_paths
from mitmtape.store import Store
from tests.conftest import RecordFactory


@pytest.fixture
def before_after(store: Store, make_record: RecordFactory) -> tuple[str, str]:
    a = store.create_session("before")
    b = store.create_session("after")

    def flow(session: str, method: str, path: str, status: int | None, ms: float):
        return make_record(session_id=session, method=method, url=f"https://api.test{path}",
                           status=status, duration_ms=ms if status else None)  # fmt: skip

    store.add_flows(
        [
            flow(a.id, "GET", "/users/42", 200, 100),
            flow(a.id, "GET", "/users/97", 200, 110),
            flow(a.id, "POST", "/login", 200, 50),
            flow(a.id, "GET", "/legacy", 200, 30),
            flow(a.id, "GET", "/items", 200, 100),
            flow(a.id, "GET", "/fast", 200, 400),
            flow(b.id, "GET", "/users/7", 200, 105),
            flow(b.id, "POST", "/login", 500, 52),
            flow(b.id, "GET", "/items", 200, 300),
            flow(b.id, "GET", "/items", 200, 320),
            flow(b.id, "GET", "/fast", 200, 100),
            flow(b.id, "GET", "/new/thing", 201, 20),
        ]
    )
    return a.id, b.id


def test_compare_finds_added_removed_changed_slower_faster(store, before_after) -> None:
    result = compare_sessions(store, *before_after).to_json()
    assert result["a"] == {"id": before_after[0], "name": "before", "flows": 6, "endpoints": 5}
    assert result["b"]["flows"] == 6 and result["b"]["endpoints"] == 5
    assert result["added"] == [{"endpoint": "GET api.test/new/thing", "flows": 1}]
    assert result["removed"] == [{"endpoint": "GET api.test/legacy", "flows": 1}]
    assert result["status_changed"] == [
        {"endpoint": "POST api.test/login", "status_a": 200, "status_b": 500}
    ]
    assert result["slower"] == [
        {"endpoint": "GET api.test/items", "median_ms_a": 100, "median_ms_b": 310}
    ]
    assert result["faster"] == [
        {"endpoint": "GET api.test/fast", "median_ms_a": 400, "median_ms_b": 100}
    ]


def test_small_time_changes_are_not_reported(store, before_after) -> None:
    result = compare_sessions(store, *before_after).to_json()
    reported = [c["endpoint"] for c in result["slower"] + result["faster"]]
    assert "GET api.test/users/{id}" not in reported  # 105 ms vs 105 ms median
    assert "POST api.test/login" not in reported  # 50 → 52 ms


def test_text_puts_counts_first(store, before_after) -> None:
    text = compare_sessions(store, "before", "after").to_text()
    lines = text.splitlines()
    assert lines[0].startswith("A  before  6 flows, 5 endpoints")
    assert lines[2].strip() == "1 added, 1 removed, 1 status changed, 1 slower, 1 faster"
    assert "+ GET api.test/new/thing  (1)" in text
    assert "POST api.test/login  200 → 500" in text
    assert "GET api.test/items  100.0 ms → 310.0 ms" in text


def test_unknown_session_is_named(store) -> None:
    with pytest.raises(Exception, match="'nope'"):
        compare_sessions(store, "nope", store.active_session().id)


# Replays: B's flows keep the id of the flow of A they replay (`replay_of`).


def replay_pair(
    store: Store, make_record: RecordFactory, before: dict, after: dict
) -> tuple[str, str]:
    """A session of one flow and a replay of it; `before`/`after` override record fields."""
    name = f"original {len(store.list_sessions())}"
    a, b = store.create_session(name), store.create_session(f"{name} (replay)")
    first = make_record(session_id=a.id, url="https://api.test/orders/1", **before)
    again = make_record(session_id=b.id, url="https://api.test/orders/1", **after)
    again.source = "replay"
    again.metadata[REPLAY_OF] = first.id
    store.add_flows([first, again])
    return a.id, b.id


def test_a_replay_that_answers_the_same_reports_no_request(store, make_record) -> None:
    same = {"response_body": b'{"id": 1}', "duration_ms": 20.0}
    result = compare_sessions(store, *replay_pair(store, make_record, same, same))
    assert result.replayed == []
    assert "B replays A: 0 replayed requests changed" in result.to_text()


def test_a_replay_names_status_body_and_time_changes(store, make_record) -> None:
    before = {"response_body": b'{"id": 1}', "duration_ms": 20.0}
    after = {"response_body": b'{"error": "boom"}', "status": 500, "duration_ms": 400.0}
    a, b = replay_pair(store, make_record, before, after)
    [row] = compare_sessions(store, a, b).replayed
    assert row["request"] == "GET api.test/orders/1"
    assert row["status"] == {"a": 200, "b": 500}
    assert (row["body"]["size_a"], row["body"]["size_b"]) == (9, 17)
    assert row["slower"] == {"ms_a": 20.0, "ms_b": 400.0}
    text = compare_sessions(store, a, b).to_text()
    assert (
        "GET api.test/orders/1  status 200 → 500; body 9 B → 17 B; slower 20.0 ms → 400.0 ms"
        in text
    )


def test_time_changes_count_from_their_limit(store, make_record) -> None:
    at_limit = {"duration_ms": 100.0 + REPLAY_TIME_MIN_MS}
    a, b = replay_pair(store, make_record, {"duration_ms": 100.0}, at_limit)
    assert "slower" in compare_sessions(store, a, b).replayed[0]
    below = {"duration_ms": 100.0 + REPLAY_TIME_MIN_MS - 0.1}
    c, d = replay_pair(store, make_record, {"duration_ms": 100.0}, below)
    assert compare_sessions(store, c, d).replayed == []


def test_ignored_json_paths_do_not_flag_a_body(store, make_record) -> None:
    before = {"response_body": b'{"id": 1, "ts": 1, "meta": {"rid": "a", "v": 2}}'}
    after = {"response_body": b'{"meta": {"v": 2, "rid": "b"}, "ts": 2, "id": 1}'}
    a, b = replay_pair(store, make_record, before, after)
    assert compare_sessions(store, a, b).replayed[0]["body"]
    ignore = ignore_paths("ts,meta.rid")
    assert compare_sessions(store, a, b, ignore=ignore).replayed == []


def test_sessions_that_are_no_replay_have_no_replay_section(store, before_after) -> None:
    result = compare_sessions(store, *before_after)
    assert result.replayed is None and "replayed" not in result.to_json()


@pytest.mark.parametrize("text", ["a..b", ".a", "a."])
def test_an_ignore_path_with_an_empty_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON path"):
        ignore_paths(text)
