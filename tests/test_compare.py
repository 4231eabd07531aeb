from __future__ import annotations

import pytest

from mitmtape.compare import compare_sessions, fold_path
from mitmtape.store import Store
from tests.conftest import RecordFactory


@pytest.mark.parametrize(
    ("path", "folded"),
    [
        ("/users/42", "/users/{id}"),
        ("/users/97/orders/3", "/users/{id}/orders/{id}"),
        ("/items/550e8400-e29b-41d4-a716-446655440000", "/items/{id}"),
        ("/runs/01HWRFQP3K5M9TGWQX7ZABCDEF", "/runs/{id}"),
        ("/blobs/5f2b9c0a1d3e4f5a6b7c", "/blobs/{id}"),
        ("/v1/users", "/v1/users"),
        ("/api/v2/me", "/api/v2/me"),
        ("/", "/"),
    ],
)
def test_ids_fold_to_one_endpoint(path: str, folded: str) -> None:
    assert fold_path(path) == folded


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
