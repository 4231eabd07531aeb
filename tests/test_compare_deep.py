"""Deep compare: what changed inside the responses of the endpoints both sessions have."""

from __future__ import annotations

import json

import pytest

from mitmtape.compare import BODY_SIZE_RATIO, compare_sessions
from mitmtape.store import Store
from tests.conftest import RecordFactory

JSON_HEADERS = [("content-type", "application/json"), ("x-request-id", "r1")]
PADDING = "p" * 200  # keeps a removed field or a retyped value well under the size threshold
FEED = json.dumps({"text": "f" * 300}).encode()
FEED_3X = json.dumps({"text": "f" * (300 * 3 + 2 * len('{"text": ""}'))}).encode()


def answer(**fields: object) -> bytes:
    return json.dumps({"padding": PADDING, **fields}).encode()


def fill(store: Store, make_record: RecordFactory, name: str, changed: bool) -> str:
    """The same four endpoints; `changed` removes a field, retypes one, drops a header and
    makes one body three times as large."""
    assert len(FEED_3X) == 3 * len(FEED)
    session = store.create_session(name)

    def record(path: str, body: bytes, headers=JSON_HEADERS):
        url = f"http://127.0.0.1:8080{path}"
        return make_record(session_id=session.id, url=url, response_body=body,
                           response_headers=headers)  # fmt: skip

    store.add_flows(
        [
            record("/users/1", answer(id=1, email="a@b.co") if not changed else answer(id=1)),
            record("/users/2", answer(id=2, email="c@d.co") if not changed else answer(id=2)),
            record("/items", answer(count="3" if changed else 3)),
            record("/ping", answer(ok=True), JSON_HEADERS[:1] if changed else JSON_HEADERS),
            record("/feed", FEED_3X if changed else FEED),
        ]
    )
    return session.id


@pytest.fixture
def before_after(store: Store, make_record: RecordFactory) -> tuple[str, str]:
    return fill(store, make_record, "before", False), fill(store, make_record, "after", True)


EXPECTED_ROWS = [
    {"endpoint": "GET 127.0.0.1/feed", "change": "body_size_changed", "what": None,
     "a": len(FEED), "b": len(FEED_3X)},
    {"endpoint": "GET 127.0.0.1/items", "change": "field_type_changed", "what": "count",
     "a": "integer", "b": "string"},
    {"endpoint": "GET 127.0.0.1/ping", "change": "header_removed", "what": "x-request-id",
     "a": None, "b": None},
    {"endpoint": "GET 127.0.0.1/users/{id}", "change": "field_removed", "what": "email",
     "a": "string", "b": None},
]  # fmt: skip


def test_exactly_the_four_changes_are_reported_as_json(store, before_after) -> None:
    comparison = compare_sessions(store, *before_after, deep=True)
    assert comparison.to_json()["responses"] == EXPECTED_ROWS


def test_exactly_the_four_changes_are_reported_as_text(store, before_after) -> None:
    text = compare_sessions(store, *before_after, deep=True).to_text()
    assert "0 added, 0 removed, 0 status changed, 0 slower, 0 faster, 4 response changes" in text
    assert text.split("Responses changed:\n", 1)[1].splitlines() == [
        "  GET 127.0.0.1/feed  median body size: 312 B → 936 B",
        "  GET 127.0.0.1/items  field type changed: count  integer → string",
        "  GET 127.0.0.1/ping  header removed: x-request-id",
        "  GET 127.0.0.1/users/{id}  field removed: email (string)",
    ]


def test_identical_sessions_report_nothing(store, make_record) -> None:
    a = fill(store, make_record, "one", False)
    b = fill(store, make_record, "two", False)
    comparison = compare_sessions(store, a, b, deep=True)
    assert comparison.to_json()["responses"] == []
    assert "0 response changes" in comparison.to_text()
    assert "Responses changed" not in comparison.to_text()


def test_without_deep_nothing_is_said_about_responses(store, before_after) -> None:
    comparison = compare_sessions(store, *before_after)
    assert "responses" not in comparison.to_json()
    assert "response changes" not in comparison.to_text()


def sized(store: Store, make_record: RecordFactory, name: str, size: int, headers) -> str:
    session = store.create_session(name)
    store.add_flows([make_record(session_id=session.id, url="http://127.0.0.1/t",
                                 response_body=b"x" * size, response_headers=headers)])  # fmt: skip
    return session.id


TEXT = [("content-type", "text/plain")]


@pytest.mark.parametrize(("growth", "reported"), [(0, False), (1, True)])
def test_body_size_counts_past_its_threshold(store, make_record, growth, reported) -> None:
    limit = int(100 * (1 + BODY_SIZE_RATIO))
    a = sized(store, make_record, "a", 100, TEXT)
    b = sized(store, make_record, "b", limit + growth, TEXT)
    rows = compare_sessions(store, a, b, deep=True).responses
    change = {"endpoint": "GET 127.0.0.1/t", "change": "body_size_changed", "what": None,
              "a": 100, "b": limit + growth}  # fmt: skip
    assert rows == ([change] if reported else [])


def test_content_type_and_watched_header_values_are_compared(store, make_record) -> None:
    a = sized(store, make_record, "a", 10, [*TEXT, ("cache-control", "no-cache"), ("etag", "1")])
    b_headers = [("content-type", "text/html"), ("cache-control", "max-age=60"), ("etag", "2")]
    b = sized(store, make_record, "b", 10, b_headers)
    rows = compare_sessions(store, a, b, deep=True).responses
    assert [(r["change"], r["what"], r["a"], r["b"]) for r in rows] == [
        ("header_changed", "cache-control", "no-cache", "max-age=60"),
        ("content_type_changed", None, "text/plain", "text/html"),
    ]


def test_fields_are_not_compared_when_one_side_is_not_json(store, make_record) -> None:
    a, b = store.create_session("a"), store.create_session("b")
    store.add_flows([
        make_record(session_id=a.id, url="http://127.0.0.1/t", response_body=b'{"a": 1}'),
        make_record(session_id=b.id, url="http://127.0.0.1/t", response_body=b"a is one",
                    response_headers=TEXT),
    ])  # fmt: skip
    rows = compare_sessions(store, a.id, b.id, deep=True).responses
    assert [r["change"] for r in rows] == ["content_type_changed"]
