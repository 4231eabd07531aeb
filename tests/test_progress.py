from __future__ import annotations

import io

from mitmtape import progress
from mitmtape.progress import ProgressBar


def test_quick_work_draws_nothing() -> None:
    out = io.StringIO()
    bar = ProgressBar("export har", out)
    bar(5_000, 10_000)
    bar(10_000, 10_000)
    assert out.getvalue() == ""


def test_slow_work_draws_a_bar_and_ends_the_line(monkeypatch) -> None:
    out = io.StringIO()
    clock = iter([0.0, 1.0, 2.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    bar = ProgressBar("export har", out)
    bar(5_000, 10_000)
    bar(10_000, 10_000)
    drawn = out.getvalue()
    assert "\rexport har [" + "#" * 15 + "-" * 15 + "] 5,000/10,000" in drawn
    assert drawn.endswith("] 10,000/10,000\n")
