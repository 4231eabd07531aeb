"""A progress bar on a terminal for long work; silent for work that ends in a moment."""

from __future__ import annotations

import sys
import time
from typing import TextIO

SHOW_AFTER_S = 0.5
WIDTH = 30


class ProgressBar:
    """Called as `bar(done, total)`; draws on stderr once the work has taken half a second."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.drawn and time.monotonic() - self.started < SHOW_AFTER_S:
            return
        filled = WIDTH if total <= 0 else min(WIDTH, WIDTH * done // total)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done:,}/{total:,}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
        self.drawn = True
