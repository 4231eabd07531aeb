"""A live server (API and page) on a free loopback port over a real store, and a signed-in
Chromium page driven by Playwright that records what the page asked for and complained about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from mitmtape.api.server import ApiServer
from mitmtape.store import Store

TOKEN = "web-t0ken"
# A condition the page does not reach in this time is a failure; no test sleeps a fixed time.
PAGE_TIMEOUT_MS = 10_000


@pytest.fixture
def server(store: Store) -> Iterator[ApiServer]:
    api = ApiServer(store, TOKEN, upload_limit=4 * 1024 * 1024)
    api.start()
    yield api
    api.stop()


@dataclass
class OpenedPage:
    """The signed-in page, with every request it made and every script error or dialog."""

    page: Any
    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        def origin(url: str) -> str:
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}"

        return [url for url in self.requests if origin(url) not in (self.origin, "blob:")]

    def goto(self, path: str) -> None:
        self.page.goto(self.origin + path)


@pytest.fixture
def web(browser: Any, server: ApiServer) -> Iterator[Callable[..., OpenedPage]]:
    """Open the page signed in by the printed link, in a fresh context (own cookies)."""
    contexts: list[Any] = []

    def opener(width: int = 1280, height: int = 800) -> OpenedPage:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        opened = OpenedPage(page=page, origin=server.url)
        page.on("request", lambda request: opened.requests.append(request.url))
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(server.sign_in_url)
        page.wait_for_selector("#sessions tbody tr")
        return opened

    yield opener
    for context in contexts:
        context.close()
