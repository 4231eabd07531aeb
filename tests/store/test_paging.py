"""Flow pages by key (store/paging.py and Store.page_flows), on every engine."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mitmtape.model import FlowRecord
from mitmtape.store import NO_FILTER, FlowFilter, InvalidCursor, Store, StoreError
from mitmtape.store.paging import CURSOR_MAX_CHARS, Cursor
from tests.conftest import BASE_TIME, RecordFactory


@pytest.fixture
def flows(store: Store, make_record: RecordFactory) -> list[FlowRecord]:
    """23 flows in the active session; two share a start time (the id breaks the tie)."""
    session = store.active_session().id
    records = [
        make_record(
            session_id=session, status=200 if n % 3 else 404, method="GET" if n % 2 else "POST"
        )
        for n in range(23)
    ]
    records[6].started_at = records[5].started_at
    store.add_flows(reversed(records))
    return sorted(records, key=lambda r: (r.started_at, r.id))


def walk(store: Store, session: str, order: str, limit: int, **kwargs) -> list[list[str]]:
    """Every page from the first to the last by `next`, as lists of ids."""
    pages, cursor = [], None
    while True:
        page = store.page_flows(session, limit=limit, order=order, cursor=cursor, **kwargs)
        pages.append([record.id for record in page.records])
        cursor = page.next
        if cursor is None:
            return pages


def joined(pages: list[list[str]]) -> list[str]:
    return [flow_id for page in pages for flow_id in page]


def test_pages_by_cursor_visit_every_flow_once_in_both_orders(store: Store, flows) -> None:
    session = flows[0].session_id
    ids = [record.id for record in flows]
    forward = walk(store, session, "asc", 5)
    assert [len(page) for page in forward] == [5, 5, 5, 5, 3]
    assert joined(forward) == ids
    backward = walk(store, session, "desc", 5)
    assert joined(backward) == ids[::-1]


def test_prev_gives_back_the_page_before_in_the_same_order(store: Store, flows) -> None:
    session = flows[0].session_id
    first = store.page_flows(session, limit=4, order="desc")
    assert first.prev is None
    second = store.page_flows(session, limit=4, cursor=first.next)
    assert second.order == "desc"
    again = store.page_flows(session, limit=4, cursor=second.prev)
    assert [r.id for r in again.records] == [r.id for r in first.records]
    assert again.prev is None and again.next == first.next


def test_first_page_counts_and_cursors_carry_the_count(store: Store, flows, make_record) -> None:
    session = flows[0].session_id
    first = store.page_flows(session, FlowFilter(method="POST"), limit=5)
    posts = [r.id for r in flows if r.request.method == "POST"]
    assert first.total == len(posts) == 12 and not first.estimated
    assert [r.id for r in first.records] == posts[:5]
    store.add_flows([make_record(session_id=session, method="POST")])
    # The count was taken once: a later page keeps it rather than counting again.
    second = store.page_flows(session, FlowFilter(method="POST"), limit=5, cursor=first.next)
    assert second.total == 12
    assert [r.id for r in second.records] == posts[5:10]
    assert store.page_flows(session, FlowFilter(method="POST")).total == 13


def test_unfiltered_total_is_the_session_counter(store: Store, flows) -> None:
    session = flows[0].session_id
    assert store.page_flows(session, limit=1).total == 23


def test_offset_still_pages_for_older_clients(store: Store, flows) -> None:
    session = flows[0].session_id
    page = store.page_flows(session, limit=3, offset=4)
    assert [r.id for r in page.records] == [r.id for r in flows[4:7]]
    assert page.prev is not None and page.next is not None
    follow = store.page_flows(session, limit=3, cursor=page.next)
    assert [r.id for r in follow.records] == [r.id for r in flows[7:10]]
    with pytest.raises(StoreError, match="either a cursor or an offset"):
        store.page_flows(session, cursor=page.next, offset=3)


def test_the_last_page_has_no_next_and_an_empty_session_no_links(store: Store, flows) -> None:
    session = flows[0].session_id
    last = store.page_flows(session, limit=23)
    assert last.next is None and len(last.records) == 23
    empty = store.create_session("empty").id
    page = store.page_flows(empty, order="desc")
    assert (page.records, page.total, page.next, page.prev) == ([], 0, None, None)


def test_expression_pages_stop_early_and_estimate_when_the_scan_stopped(
    store: Store, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mitmtape.store.SCAN_BATCH", 10)
    session = store.active_session().id
    records = [make_record(session_id=session, status=200 + n % 2) for n in range(100)]
    store.add_flows(records)
    tried: list[str] = []

    def odd(record: FlowRecord) -> bool:
        tried.append(record.id)
        return record.status == 201

    page = store.page_flows(session, limit=5, matches=odd)
    assert [r.status for r in page.records] == [201] * 5
    assert len(tried) <= 20  # two batches of 10, not the session's 100
    assert page.estimated and page.total == 50
    rest = walk(store, session, "asc", 5, matches=odd)
    assert joined(rest) == [r.id for r in records if r.status == 201]
    whole = store.page_flows(session, limit=100, matches=odd)
    assert (whole.total, whole.estimated) == (50, False)


def test_expression_pages_go_backward_too(store: Store, make_record: RecordFactory) -> None:
    session = store.active_session().id
    records = [make_record(session_id=session, status=200 + n % 2) for n in range(30)]
    store.add_flows(records)
    odd = [r.id for r in records if r.status == 201]

    def matches(record: FlowRecord) -> bool:
        return record.status == 201

    first = store.page_flows(session, limit=4, order="desc", matches=matches)
    second = store.page_flows(session, limit=4, cursor=first.next, matches=matches)
    assert [r.id for r in second.records] == odd[::-1][4:8]
    back = store.page_flows(session, limit=4, cursor=second.prev, matches=matches)
    assert [r.id for r in back.records] == odd[::-1][:4]


def test_url_total_is_estimated_past_the_sample(
    store: Store, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mitmtape.store.COUNT_SAMPLE", 10)
    monkeypatch.setattr("mitmtape.store.ESTIMATE_SAMPLE", 10)
    session = store.active_session().id
    urls = ["https://a.test/cart", "https://a.test/home"]
    store.add_flows([make_record(session_id=session, url=urls[n % 2]) for n in range(40)])
    page = store.page_flows(session, FlowFilter(url="/cart"), limit=5)
    assert (page.total, page.estimated) == (20, True)
    monkeypatch.setattr("mitmtape.store.ESTIMATE_SAMPLE", 100)  # more than the session holds
    whole = store.page_flows(session, FlowFilter(url="/cart"), limit=5)
    assert (whole.total, whole.estimated) == (20, True)
    monkeypatch.setattr("mitmtape.store.COUNT_SAMPLE", 40)
    exact = store.page_flows(session, FlowFilter(url="/cart"), limit=5)
    assert (exact.total, exact.estimated) == (20, False)


def test_an_index_count_stops_at_its_cap_and_is_estimated_past_it(
    store: Store, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = store.active_session().id
    # The older half all GET, the newer half POST and GET in turn: 10 POSTs.
    methods = ["GET"] * 20 + ["POST", "GET"] * 10
    store.add_flows([make_record(session_id=session, method=method) for method in methods])
    posts = FlowFilter(method="POST")
    monkeypatch.setattr("mitmtape.store.COUNT_EXACT_MAX", 10)
    at_cap = store.page_flows(session, posts, limit=4)
    assert (at_cap.total, at_cap.estimated) == (10, False)
    monkeypatch.setattr("mitmtape.store.COUNT_EXACT_MAX", 5)
    monkeypatch.setattr("mitmtape.store.ESTIMATE_SAMPLE", 8)
    # Past the cap: half of the newest 8 flows are POSTs, so about half of the 40.
    past = store.page_flows(session, posts, limit=4)
    assert (past.total, past.estimated) == (20, True)
    carried = store.page_flows(session, posts, limit=4, cursor=past.next)
    assert (carried.total, carried.estimated) == (20, True)
    store.add_flows([make_record(session_id=session, method="POST") for _ in range(2)])
    # Never below what was counted before the cap stopped it (12), whatever the sample says.
    monkeypatch.setattr("mitmtape.store.ESTIMATE_SAMPLE", 2)
    monkeypatch.setattr("mitmtape.store.COUNT_EXACT_MAX", 11)
    floor = store.page_flows(session, FlowFilter(method="GET"), limit=4)
    assert (floor.total, floor.estimated) == (12, True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64 !",
        "W10",  # []
        Cursor("t", "i").encode()[:-3],
        "A" * (CURSOR_MAX_CHARS + 1),
        # A well-formed cursor of another version, order or shape.
        Cursor("t", "i", "sideways").encode(),  # type: ignore[arg-type]
    ],
)
def test_a_cursor_not_handed_out_is_refused_in_one_sentence(store: Store, text: str) -> None:
    with pytest.raises(InvalidCursor, match="not one this server gave out"):
        store.page_flows(store.active_session().id, cursor=text)


def test_cursor_round_trips_at_its_edges() -> None:
    cursor = Cursor("2026-01-01T00:00:00.000000Z", "01J" * 8, "desc", True, 2**62, True)
    assert Cursor.decode(cursor.encode()) == cursor
    assert len(cursor.encode()) < CURSOR_MAX_CHARS


def test_an_unknown_order_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="order must be asc or desc"):
        store.page_flows(store.active_session().id, order="newest")


@pytest.fixture
def planned(tmp_path: Path, make_record: RecordFactory) -> Iterator[tuple[Store, list[str]]]:
    """A SQLite store whose statements are recorded (with their values) as they run."""
    store = Store(tmp_path / "tape.db")
    session = store.active_session().id
    store.add_flows(
        make_record(session_id=session, started_at=BASE_TIME + timedelta(seconds=n))
        for n in range(50)
    )
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    yield store, statements
    store.close()


def plan_of(store: Store, statements: list[str], table_word: str = "FROM flows") -> str:
    """The query plans of the recorded flow queries, as one text."""
    with sqlite3.connect(store.path) as db:
        return " | ".join(
            " ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
            for statement in statements
            if table_word in statement and statement.lstrip().upper().startswith("SELECT")
        )


@pytest.mark.parametrize(
    ("flow_filter", "index"),
    [
        (FlowFilter(method="GET"), "flows_by_method"),
        (FlowFilter(host="api.example.com"), "flows_by_host"),
        (FlowFilter(status_min=400, status_max=499), "flows_by_status"),
        (NO_FILTER, "flows_by_time"),
    ],
)
def test_filtered_pages_and_counts_use_their_index(planned, flow_filter, index) -> None:
    store, statements = planned
    session = store.active_session().id
    store.page_flows(session, flow_filter, limit=10)
    page = store.page_flows(session, flow_filter, limit=10, order="desc")
    if page.next:
        store.page_flows(session, flow_filter, limit=10, cursor=page.next)
    plans = plan_of(store, statements)
    assert "SCAN flows" not in plans.replace("SCAN flows USING", "")
    assert index in plans
    if index in ("flows_by_method", "flows_by_host", "flows_by_time"):
        # Read in time order from the index: at most flows of one start time sorted by id,
        # never every match.
        assert "USE TEMP B-TREE FOR ORDER BY" not in plans


def test_a_status_range_with_many_matches_walks_the_time_index(
    planned, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, statements = planned
    session = store.active_session().id
    wide = FlowFilter(status_min=200, status_max=299)  # all 50 flows
    monkeypatch.setattr("mitmtape.store.STATUS_SORT_MAX", 50)
    store.page_flows(session, wide, limit=10)
    assert "flows_by_status" in plan_of(store, statements)  # the count
    statements.clear()
    monkeypatch.setattr("mitmtape.store.STATUS_SORT_MAX", 49)
    page = store.page_flows(session, wide, limit=10)
    assert len(page.records) == 10 and page.total == 50
    plans = plan_of(store, [s for s in statements if "LIMIT" in s])
    assert "flows_by_time" in plans and "TEMP B-TREE" not in plans


def test_an_expression_that_reads_no_bodies_is_spared_them(
    store: Store, make_record: RecordFactory
) -> None:
    session = store.active_session().id
    store.add_flows([make_record(session_id=session, response_body=b"payload")])
    bodies: list[bytes] = []

    def seeing(record: FlowRecord) -> bool:
        assert record.response is not None
        bodies.append(record.response.body.data)
        return True

    store.page_flows(session, matches=seeing)
    seeing.needs_bodies = False  # type: ignore[attr-defined]
    page = store.page_flows(session, matches=seeing)
    assert bodies == [b"payload", b""]
    assert page.records[0].response is not None and page.records[0].response_size == 7
