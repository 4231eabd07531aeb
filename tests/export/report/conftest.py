"""Fixtures for the HTML report: records built from plain arguments, rendering, and a real
headless Chromium that records what a page did (tests/pages.py)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mitmtape.export.base import ExportContext
from mitmtape.export.report import FORMAT
from mitmtape.model import Body, FlowRecord, Request, Response, Session
from tests.pages import RecordedPage

# A page that does not answer in this time is broken; failing fast beats Playwright's 30 s.
PAGE_TIMEOUT_MS = 5_000
START = datetime(2025, 3, 8, 14, 30, tzinfo=UTC)


def make_flow(
    url: str = "https://api.example.com/v1/users",
    method: str = "GET",
    status: int | None = 200,
    duration_ms: float | None = 10.0,
    request_size: int = 0,
    response_size: int = 0,
    offset_ms: float = 0,
    error: str | None = None,
    tags: list[str] | None = None,
    request_headers: list[tuple[str, str]] | None = None,
    response_headers: list[tuple[str, str]] | None = None,
    **request_fields: Any,
) -> FlowRecord:
    """A record as the pipeline hands it to the report: sizes right, no body bytes."""
    response = None
    if status is not None:
        response = Response(
            status=status,
            reason="Reason",
            headers=response_headers or [("content-type", "application/json")],
            body=Body(wire_size=response_size),
        )
    return FlowRecord(
        request=Request(
            method=method,
            url=url,
            headers=request_headers or [("accept", "*/*")],
            body=Body(wire_size=request_size),
            **request_fields,
        ),
        response=response,
        started_at=START + timedelta(milliseconds=offset_ms),
        duration_ms=duration_ms,
        error=error,
        tags=tags or [],
    )


@pytest.fixture
def flow() -> Callable[..., FlowRecord]:
    return make_flow


def render_report(
    records: list[FlowRecord], matched: int | None = None, session: Session | None = None
) -> str:
    context = ExportContext(
        session=session or Session(id="s1", name="Checkout tests"),
        matched=len(records) if matched is None else matched,
        cap=FORMAT.cap,
    )
    out = io.StringIO()
    FORMAT.write(out, iter(records[: FORMAT.cap]), context)
    return out.getvalue()


@pytest.fixture
def render() -> Callable[..., str]:
    return render_report


def visible_rows(page: Any) -> list[list[str]]:
    """The text of each cell of the rows the search and sort leave shown."""
    return page.eval_on_selector_all(
        "#flows tbody tr:not([hidden])",
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent))",
    )


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Callable[..., RecordedPage]]:
    """Write HTML to a file under tmp_path and open it once its script has run (it marks the
    document `js` first thing); the page is closed after the test."""
    pages: list[Any] = []

    def opener(html: str, name: str = "report.html") -> RecordedPage:
        target = tmp_path / name
        target.write_text(html, encoding="utf-8")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        pages.append(page)
        opened = RecordedPage.watch(page, target.as_uri())
        page.goto(opened.url, wait_until="load")
        page.wait_for_selector("html.js", state="attached")
        return opened

    yield opener
    for page in pages:
        page.close()
