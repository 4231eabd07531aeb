"""The report's summary numbers against a session whose numbers are known."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from mitmtape.export.report.summary import Summary
from mitmtape.model import FlowRecord


def known_session(flow) -> list[FlowRecord]:
    return [
        flow(method="GET", status=200, request_size=0, response_size=1_000, duration_ms=12),
        flow(method="GET", status=304, response_size=0, duration_ms=5),
        flow(method="POST", status=201, request_size=300, response_size=50, duration_ms=80),
        flow(method="PUT", status=404, request_size=20, response_size=10, duration_ms=700),
        flow(method="DELETE", status=500, response_size=100, duration_ms=1_200),
        flow(method="PATCH", status=503, duration_ms=9, url="https://other.example.org/x"),
        flow(method="GET", status=None, duration_ms=None, error="connection refused"),
        flow(method="GET", status=200, response_size=5, duration_ms=3, error="killed"),
        flow(method="OPTIONS", status=204, duration_ms=1),
        flow(method="GET", status=101, duration_ms=40, url="wss://ws.example.net/live"),
    ]


def summarize(records: list[FlowRecord]) -> Summary:
    summary = Summary()
    for record in records:
        summary.add(record)
    return summary


def test_summary_counts_flows_bytes_and_errors(flow) -> None:
    summary = summarize(known_session(flow))
    assert summary.flows == 10
    assert summary.bytes == 1_000 + 300 + 50 + 20 + 10 + 100 + 5
    # 500, 503, the flow without a response and the 200 that still failed (killed).
    assert summary.errors == 4
    assert len(summary.hosts) == 3


def test_summary_counts_flows_per_method_and_status_class(flow) -> None:
    summary = summarize(known_session(flow))
    assert summary.methods == Counter(GET=5, POST=1, PUT=1, DELETE=1, PATCH=1, OPTIONS=1)
    assert summary.status_counts() == [
        ("1xx", "1xx", 1),
        ("2xx", "2xx", 4),
        ("3xx", "3xx", 1),
        ("4xx", "4xx", 1),
        ("5xx", "5xx", 2),
        ("none", "no response", 1),
    ]


def test_spec_status_classes_are_listed_even_at_zero(flow) -> None:
    summary = summarize([flow(status=200)])
    assert [name for name, _, _ in summary.status_counts()] == ["2xx", "3xx", "4xx", "5xx", "none"]


def test_response_time_percentiles_skip_flows_without_a_duration(flow) -> None:
    summary = summarize(known_session(flow))
    assert sorted(summary.durations) == [1, 3, 5, 9, 12, 40, 80, 700, 1_200]
    assert summary.percentile(0.5) == 12
    assert summary.percentile(0.95) == 1_200
    assert Summary().percentile(0.5) is None


class Marked(HTMLParser):
    """Collects the text of elements marked `data-stat`, `data-method`, `data-status-class`."""

    MARKS = ("data-stat", "data-method", "data-status-class")

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}
        self.open: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self.MARKS:
                self.open = (name, value or "")

    def handle_data(self, data: str) -> None:
        if self.open:
            self.values[self.open] = data
            self.open = None


def test_the_page_shows_the_summary_numbers(flow, render) -> None:
    parser = Marked()
    parser.feed(render(known_session(flow)))
    shown = parser.values
    assert shown["data-stat", "flows"] == "10"
    assert shown["data-stat", "bytes"] == "1.5 KB"
    assert shown["data-stat", "errors"] == "4"
    assert shown["data-stat", "median"] == "12 ms"
    assert {k[1]: v for k, v in shown.items() if k[0] == "data-method"} == {
        "GET": "5",
        "POST": "1",
        "PUT": "1",
        "DELETE": "1",
        "PATCH": "1",
        "OPTIONS": "1",
    }
    assert {k[1]: v for k, v in shown.items() if k[0] == "data-status-class"} == {
        "1xx": "1",
        "2xx": "4",
        "3xx": "1",
        "4xx": "1",
        "5xx": "2",
        "none": "1",
    }
