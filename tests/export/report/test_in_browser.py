"""The report in a real headless Chromium: offline, searchable, sortable, and inert to injection."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mitmtape.model import FlowRecord, Session
from mitmtape.text import human_duration as format_ms
from tests.export.report.conftest import visible_rows

PAYLOADS = [
    line
    for line in (Path(__file__).parent / "xss_payloads.txt").read_text("utf-8").split("\n")
    if line and not line.startswith("# ")
]
CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
DURATIONS = [9.0, 80.0, 700.0, 1200.0, 12.0, 5.5, 100.0, None]


def demo_records(flow: Callable[..., FlowRecord]) -> list[FlowRecord]:
    """A small session with every column varied; durations chosen so text order is wrong."""
    hosts = ["api.example.com", "checkout.shop.test", "cdn.example.net", "auth.example.com"]
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "GET", "OPTIONS", "GET"]
    statuses = [200, 201, 204, 404, 500, 302, 204, None]
    records = []
    for index, duration in enumerate(DURATIONS):
        host = hosts[index % len(hosts)]
        records.append(
            flow(
                url=f"https://{host}/v1/{'cart' if index % 2 else 'users'}/{index}?page={index}",
                method=methods[index],
                status=statuses[index],
                duration_ms=duration,
                response_size=137 * index**3,
                offset_ms=index * 150,
                error="connection refused" if statuses[index] is None else None,
                tags=["slow"] if duration and duration > 500 else [],
            )
        )
    records.append(
        flow(
            url="https://checkout.shop.test/" + "ünïcödé-" * 10 + "end",
            method="POST",
            status=201,
            duration_ms=42.0,
            offset_ms=1500,
        )
    )
    return records


def test_report_opens_from_a_file_without_any_request(open_report, render, flow) -> None:
    opened = open_report(render(demo_records(flow)))
    page = opened.page
    page.fill("#search", "checkout")
    page.click("th[data-key=size] button")
    page.click("#flows tbody tr:not([hidden]) td")
    page.wait_for_selector("#detail[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")
    opened.settle()

    assert opened.requests == [opened.url]
    assert opened.problems == []


def test_typing_in_the_search_box_leaves_only_matching_rows(open_report, render, flow) -> None:
    records = demo_records(flow)
    opened = open_report(render(records))
    page = opened.page
    assert len(visible_rows(opened.page)) == len(records)

    page.type("#search", "checkout", delay=10)
    rows = visible_rows(opened.page)
    expected = [r for r in records if "checkout" in r.request.url]
    assert [row[3] for row in rows] == [r.request.host for r in expected]
    assert page.text_content("#shown") == f"{len(expected)} of {len(records)} flows"

    page.fill("#search", "post 201")
    assert [(row[1], row[2]) for row in visible_rows(opened.page)] == [("POST", "201")] * 2

    page.fill("#search", "refused")
    assert [row[2] for row in visible_rows(opened.page)] == ["—"]

    page.fill("#search", "no such flow anywhere")
    assert visible_rows(opened.page) == []

    page.fill("#search", "")
    assert len(visible_rows(opened.page)) == len(records)


def test_clicking_duration_sorts_numerically_both_ways(open_report, render, flow) -> None:
    records = demo_records(flow)
    opened = open_report(render(records))
    header = "th[data-key=duration]"
    timed = sorted(r.duration_ms for r in records if r.duration_ms is not None)
    untimed = [format_ms(None)] * sum(r.duration_ms is None for r in records)

    opened.page.click(f"{header} button")
    ascending = [row[5] for row in visible_rows(opened.page)]
    assert ascending == [format_ms(ms) for ms in timed] + untimed
    assert opened.page.get_attribute(header, "aria-sort") == "ascending"

    opened.page.click(f"{header} button")
    descending = [row[5] for row in visible_rows(opened.page)]
    assert descending == [format_ms(ms) for ms in reversed(timed)] + untimed
    assert opened.page.get_attribute(header, "aria-sort") == "descending"


def planted(flow: Callable[..., FlowRecord], payloads: list[str]) -> list[FlowRecord]:
    """One flow per payload, the payload in its URL, host or method, headers, tag and error."""
    return [
        flow(
            url=f"https://evil.example/{index}/{payload}?q={payload}",
            method=payload if index % 5 == 0 else "GET",
            host=payload if index % 4 == 0 else "",
            status=None if index % 3 == 0 else 200,
            offset_ms=index,
            error=payload,
            tags=[payload],
            request_headers=[(payload, payload), ("referer", payload)],
            response_headers=[("x-note", payload)],
        )
        for index, payload in enumerate(payloads)
    ]


def element_counts(page: Any) -> dict[str, int]:
    return page.evaluate(
        """() => {
            const counts = {};
            for (const node of document.querySelectorAll("*")) {
                counts[node.localName] = (counts[node.localName] || 0) + 1;
            }
            return counts;
        }"""
    )


# Opens each row's detail panel in turn (as a click does) and reads the error it shows.
OPEN_EVERY_DETAIL = """() => Array.from(document.querySelectorAll("#flows tbody tr"), (row) => {
    row.cells[0].click();
    const error = document.querySelector("#detail-body .error").textContent;
    document.getElementById("detail").close();
    return error;
})"""


@pytest.mark.parametrize("keep_csp", [True, False], ids=["with-csp", "escaping-alone"])
def test_injection_payloads_run_nothing(open_report, render, flow, keep_csp: bool) -> None:
    """Without the CSP too: the escaping alone must hold, the CSP is only a second wall."""
    assert len(PAYLOADS) >= 30
    session = Session(id="evil", name=PAYLOADS[0], description=PAYLOADS[4])
    html = render(planted(flow, PAYLOADS), session=session)
    plain = [f"payload{n}" for n in range(len(PAYLOADS))]
    harmless = render(
        planted(flow, plain), session=Session(id="ok", name=plain[0], description=plain[4])
    )
    if not keep_csp:
        html, removed = CSP_META.subn("", html)
        harmless = CSP_META.sub("", harmless)
        assert removed == 1
    baseline = element_counts(open_report(harmless, "harmless.html").page)
    opened = open_report(html)
    page = opened.page

    counts = element_counts(page)
    tags = page.eval_on_selector_all(".tag", "tags => tags.map(t => t.textContent)")
    page.click("#flows tbody tr td")
    page.keyboard.press("Escape")
    shown_errors = page.evaluate(OPEN_EVERY_DETAIL)
    for key in ("method", "host", "path", "tags"):
        page.click(f"th[data-key={key}] button")
    page.fill("#search", "pwned")
    page.wait_for_function("() => document.getElementById('shown').textContent.includes(' of ')")
    opened.settle()

    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.title").endswith("mitmtape report")
    assert opened.dialogs == []
    assert opened.requests_besides_the_page() == []
    assert opened.problems == []
    assert counts == baseline
    assert tags == PAYLOADS
    assert shown_errors == PAYLOADS


def test_screenshots_are_written(open_report, render, flow, tmp_path: Path) -> None:
    records = demo_records(flow)
    opened = open_report(render(records, matched=12_345))
    page = opened.page
    report_png = tmp_path / "report.png"
    detail_png = tmp_path / "report-detail.png"

    page.screenshot(path=report_png, full_page=True)
    page.click("#flows tbody tr:nth-child(5) td")
    page.wait_for_selector("#detail[open]")
    page.screenshot(path=detail_png)

    for picture in (report_png, detail_png):
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert picture.stat().st_size > 20_000
