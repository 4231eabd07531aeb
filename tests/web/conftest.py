"""A live server (API and page) on a free loopback port over a real store, and a signed-in
Chromium page driven by Playwright that records what the page asked for and complained about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mitmtape.api.server import ApiServer
from mitmtape.store import Store
from tests.pages import RecordedPage

TOKEN = "web-t0ken"
# A condition the page does not reach in this time is a failure; no test sleeps a fixed time.
PAGE_TIMEOUT_MS = 10_000
# Chromium asks every page for its icon; the page names none and the server has none: a 404.
FAVICON = "/favicon.ico"


def workspace_probes(session_id: str) -> tuple[str, ...]:
    """The requests a session's view makes on purpose to learn whether the session has a
    report.md and a poc/ folder: the API answers 404 for each one it does not have."""
    session = f"/api/v1/sessions/{session_id}"
    return f"{session}/report", f"{session}/poc"


@pytest.fixture
def server(store: Store) -> Iterator[ApiServer]:
    api = ApiServer(store, TOKEN, upload_limit=4 * 1024 * 1024)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def web(browser: Any, server: ApiServer) -> Iterator[Callable[..., RecordedPage]]:
    """Open the page signed in by the printed link, in a fresh context (own cookies)."""
    contexts: list[Any] = []

    def opener(width: int = 1280, height: int = 800) -> RecordedPage:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        opened = RecordedPage.watch(page, server.url)
        page.goto(server.sign_in_url)
        page.wait_for_selector("#sessions tbody tr")
        return opened

    yield opener
    for context in contexts:
        context.close()
