"""What the addon's commands tell the person: the log records at mitmproxy's ALERT level."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mitmproxy.log import ALERT

Alerts = Callable[[], list[str]]


@pytest.fixture
def alerts(caplog: pytest.LogCaptureFixture) -> Alerts:
    """The messages told at ALERT so far (what the console's status bar shows)."""
    caplog.set_level(ALERT, logger="mitmtape")
    return lambda: [r.getMessage() for r in caplog.records if r.levelno == ALERT]
