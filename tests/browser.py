"""Debian's chromium under Playwright, launched one way for the browser tests, the web benchmark
and the sample-capture script: never a downloaded browser, no traffic beyond 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Any

CHROMIUM_ENV = "MITMTAPE_CHROMIUM"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class NoChromium(RuntimeError):
    """No chromium to launch; the message says what to install."""


def chromium_executable() -> str:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found:
        raise NoChromium(
            f"no chromium found: apt-get install chromium, or set {CHROMIUM_ENV} to its path"
        )
    return found


def launch_chromium(playwright: Any, extra_args: Sequence[str] = ()) -> Any:
    """A headless chromium from a started `sync_playwright()`."""
    return playwright.chromium.launch(
        executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *extra_args]
    )
