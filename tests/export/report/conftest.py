"""Fixtures for the HTML report: records built from plain arguments, rendering, and a real
headless Chromium driven by Playwright that records every request a page makes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mitmtape.export.base import ExportContext
from mitmtape.export.report import FORMAT
from mitmtape.model import Body, FlowRecord, Request, Response, Session

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


@dataclass
class OpenedReport:
    """A report open in a page, with what the page asked for and complained about."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def requests_besides_the_file(self) -> list[str]:
        return [url for url in self.requests if url != self.url]

    def visible_rows(self) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            "#flows tbody tr:not([hidden])",
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent))",
        )


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Callable[[str], OpenedReport]]:
    """Write HTML to a file under tmp_path and open it; the page is closed after the test."""
    pages: list[Any] = []

    def opener(html: str, name: str = "report.html") -> OpenedReport:
        target = tmp_path / name
        target.write_text(html, encoding="utf-8")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        pages.append(page)
        opened = OpenedReport(page=page, url=target.as_uri())
        page.on("request", lambda request: opened.requests.append(request.url))
        page.on("console", lambda message: _console(opened, message))
        page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: _dialog(opened, dialog))
        page.goto(opened.url, wait_until="load")
        page.wait_for_timeout(200)
        return opened

    yield opener
    for page in pages:
        page.close()


def _console(opened: OpenedReport, message: Any) -> None:
    if message.type in ("error", "warning"):
        opened.problems.append(f"console {message.type}: {message.text}")


def _dialog(opened: OpenedReport, dialog: Any) -> None:
    opened.dialogs.append(dialog.message)
    dialog.dismiss()
