"""One recorder of what a page in Chromium did, for the report's and the web page's browser
tests: every request it made, every problem (a script error, a console error or warning, a
request that failed or was answered 400 or above) and every dialog, dismissed so nothing hangs.

A test that expects a request to fail names its path: `problems_besides(path, ...)` leaves out
the problems of those requests only, so nothing else is ever silenced. A request the test's own
`goto` cuts short (the page's event stream, say) is no problem of the page's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

FIRST_FAILING_STATUS = 400
# Resolves once the page has drawn a frame and run the tasks queued before it.
NEXT_FRAME = "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Problem:
    """What went wrong, and the address it is about ("" for a script error)."""

    text: str
    url: str = ""


@dataclass
class RecordedPage:
    """A page and what it did since `watch` attached to it."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    in_flight: set[Any] = field(default_factory=set)
    cut_by_goto: set[Any] = field(default_factory=set)

    @classmethod
    def watch(cls, page: Any, url: str) -> RecordedPage:
        """Listen before the page is opened, so its first request is recorded too."""
        recorded = cls(page=page, url=url)
        page.on("request", recorded._request)
        page.on("requestfinished", lambda request: recorded.in_flight.discard(request))
        page.on("requestfailed", recorded._request_failed)
        page.on("response", recorded._response)
        page.on("console", recorded._console)
        page.on(
            "pageerror", lambda error: recorded.problems.append(Problem(f"page error: {error}"))
        )
        page.on("dialog", recorded._dialog)
        return recorded

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    def goto(self, path: str) -> None:
        """Open `path` on the page's own origin, leaving the current page and its requests."""
        self.cut_by_goto |= self.in_flight
        self.page.goto(self.origin + path)

    def settle(self) -> None:
        """Wait for the next frame, so what the last action started (an image load, a timer
        of 0 ms, a handler an injected attribute added) has started before a test looks."""
        self.page.evaluate(NEXT_FRAME)

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the page's own origin (its blob: URLs name it too)."""
        return [url for url in self.requests if origin_of(url.removeprefix("blob:")) != self.origin]

    def requests_besides_the_page(self) -> list[str]:
        return [url for url in self.requests if url != self.url]

    def problems_besides(self, *paths: str) -> list[Problem]:
        """The problems of every request but those to `paths` on the page's origin (which
        may or may not have come in yet: the browser reports them as they happen)."""
        declared = {self.origin + path for path in paths}
        return [problem for problem in self.problems if problem.url not in declared]

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        self.in_flight.add(request)

    def _request_failed(self, request: Any) -> None:
        self.in_flight.discard(request)
        if request in self.cut_by_goto:
            return
        self.problems.append(Problem(f"{request.method} failed: {request.failure}", request.url))

    def _response(self, response: Any) -> None:
        if response.status >= FIRST_FAILING_STATUS:
            text = f"{response.request.method} answered {response.status}"
            self.problems.append(Problem(text, response.url))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.problems.append(Problem(f"console {message.type}: {message.text}", where))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()
