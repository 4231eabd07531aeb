"""Fixtures shared by the whole suite: records, a real SQLite store, the addon in mitmproxy's
test context, and Debian's chromium under Playwright (one per run: the sync API cannot run two
at once). Free ports are tests/ports.py, waiting to a deadline tests/waiting.py."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.test import taddons

from mitmtape.addon import MitmTape
from mitmtape.model import (
    Body,
    FlowRecord,
    Request,
    Response,
    Timings,
    WebSocketMessage,
)
from mitmtape.store import Store, open_store
from tests.browser import NoChromium, launch_chromium
from tests.postgres import fresh_database

BASE_TIME = datetime(2026, 3, 8, 14, 30, 22, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A real store on each engine, closed after the test: a SQLite file in a fresh folder, or
    a fresh schema on the test PostgreSQL server (tests/postgres.py)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            location: str | Path = tmp_path / "tape.db"
        else:
            location = stack.enter_context(fresh_database())
            # A server's workspaces live in the data folder: the test's, not the home's.
            request.getfixturevalue("monkeypatch").setattr(
                "mitmtape.store.DEFAULT_CONFDIR", str(tmp_path / "confdir")
            )
        opened = open_store(location)
        stack.callback(opened.close)
        yield opened


@pytest.fixture
def tape(tmp_path: Path) -> Iterator[tuple[MitmTape, taddons.context]]:
    """The addon in mitmproxy's test context, recording into a fresh database."""
    addon = MitmTape()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, tape_db=str(tmp_path / "tape.db"))
        yield addon, tctx
        addon.done()


RecordFactory = Callable[..., FlowRecord]


@pytest.fixture
def make_record() -> RecordFactory:
    """Build a record with sensible defaults; keyword arguments override fields."""
    counter = iter(range(1_000_000))

    def build(
        session_id: str = "",
        method: str = "GET",
        url: str = "https://api.example.com/v1/items?page=2",
        status: int | None = 200,
        request_body: bytes = b"",
        response_body: bytes = b'{"ok": true}',
        request_headers: list[tuple[str, str]] | None = None,
        response_headers: list[tuple[str, str]] | None = None,
        **fields: Any,
    ) -> FlowRecord:
        index = next(counter)
        response = None
        if status is not None:
            response = Response(
                status=status,
                reason="OK",
                headers=response_headers
                if response_headers is not None
                else [("content-type", "application/json")],
                body=Body(response_body),
            )
        fields.setdefault("started_at", BASE_TIME + timedelta(milliseconds=index))
        fields.setdefault("duration_ms", 12.5 if response else None)
        return FlowRecord(
            session_id=session_id,
            request=Request(
                method=method,
                url=url,
                headers=request_headers
                if request_headers is not None
                else [("host", "api.example.com"), ("accept", "*/*")],
                body=Body(request_body),
            ),
            response=response,
            **fields,
        )

    return build


@pytest.fixture
def rich_record(make_record: RecordFactory) -> FlowRecord:
    """A record that uses every field: binary body, repeated headers, error, websocket."""
    return make_record(
        method="POST",
        url="https://api.example.com/upload?x=1&x=2",
        request_body=bytes(range(256)),
        request_headers=[
            ("host", "api.example.com"),
            ("content-type", "application/octet-stream"),
            ("x-dup", "one"),
            ("x-dup", "two"),
        ],
        response_body="héllo wörld ✓".encode(),
        response_headers=[("content-type", "text/plain; charset=utf-8"), ("set-cookie", "a=1")],
        timings=Timings(dns=0, connect=1500, ssl=2500, send=10, wait=9000, receive=120),
        error="peer closed connection",
        tags=["api", "slow"],
        metadata={"comment": "look here", "marker": ":star:"},
        client={"host": "127.0.0.1", "port": 50123},
        server={
            "host": "api.example.com",
            "port": 443,
            "ip": "10.0.0.1",
            "sni": "api.example.com",
            "tls_version": "TLSv1.3",
            "alpn": "http/1.1",
        },
        websocket=[
            WebSocketMessage(True, "text", 1741444222.5, "hi ✓".encode()),
            WebSocketMessage(False, "binary", 1741444222.75, b"\x00\xff\x10"),
        ],
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright; missing either one fails, with what to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install playwright", pytrace=False)
    with sync_playwright() as playwright:
        try:
            launched = launch_chromium(playwright)
        except NoChromium as exc:
            pytest.fail(str(exc), pytrace=False)
        yield launched
        launched.close()
