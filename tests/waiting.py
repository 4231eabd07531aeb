"""Waiting for something to happen in another thread or process: poll to a deadline, never
sleep a fixed time and hope."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# Short enough that a test waits little past the moment; long enough not to spin a core.
POLL_SECONDS = 0.05


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str, poll: float = POLL_SECONDS
) -> T:
    """The first true value `predicate` returns within `timeout` seconds, asked every `poll`
    seconds; past the deadline, a TimeoutError saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(poll)
