"""The report's pictures as numbers for inline SVG: histogram, status bar, waterfall."""

from __future__ import annotations

import bisect
from typing import Any

from mitmtape.export.report.summary import Summary
from mitmtape.export.report.table import Row
from mitmtape.text import human_duration

# The response-time histogram's bins: upper edge in ms (None: no edge) and label.
HISTOGRAM_BINS = (
    (10, "<10 ms"),
    (25, "10–25"),
    (50, "25–50"),
    (100, "50–100"),
    (250, "100–250"),
    (500, "250–500"),
    (1_000, "0.5–1 s"),
    (2_500, "1–2.5 s"),
    (5_000, "2.5–5 s"),
    (10_000, "5–10 s"),
    (None, "≥10 s"),
)

WATERFALL_ROWS = 120

WATERFALL_HEIGHT = 240

CHART_WIDTH = 1000


def histogram(durations: list[float]) -> list[dict[str, Any]]:
    """Bars of the response-time histogram: label, count and geometry in a 600×150 box."""
    edges = [edge for edge, _ in HISTOGRAM_BINS if edge is not None]
    counts = [0] * len(HISTOGRAM_BINS)
    for ms in durations:
        counts[bisect.bisect_right(edges, ms)] += 1
    tallest = max(counts) or 1
    width = 600 / len(counts)
    return [
        {
            "label": label,
            "count": count,
            "x": round(index * width + 3, 1),
            "width": round(width - 6, 1),
            "height": round(120 * count / tallest, 1),
        }
        for index, ((_, label), count) in enumerate(zip(HISTOGRAM_BINS, counts, strict=True))
    ]


def status_bar(summary: Summary) -> list[dict[str, Any]]:
    """Segments of the stacked status-class bar, as shares of `CHART_WIDTH`."""
    segments, x = [], 0.0
    for name, label, count in summary.status_counts():
        width = CHART_WIDTH * count / (summary.flows or 1)
        if count:
            segments.append({"name": name, "label": label, "count": count, "x": x, "w": width})
        x += width
    return segments


def waterfall(rows: list[Row]) -> dict[str, Any]:
    """The timeline: each flow a bar from its start to its end, one SVG path per status class.

    Past `WATERFALL_ROWS` flows, neighbours share a line: the picture keeps its height and still
    shows when traffic came, how long it took and where it failed.
    """
    if not rows:
        return {"height": 0, "paths": {}, "ticks": []}
    first = rows[0].start_ms
    ends = [row.start_ms + (row.duration_ms or 0) for row in rows]
    span = max(max(ends) - first, 1.0)
    lines = min(len(rows), WATERFALL_ROWS)
    line_height = max(2.0, min(12.0, WATERFALL_HEIGHT / lines))
    paths: dict[str, list[str]] = {}
    for index, (row, end) in enumerate(zip(rows, ends, strict=True)):
        x = CHART_WIDTH * (row.start_ms - first) / span
        width = max(CHART_WIDTH * (end - row.start_ms) / span, 1.5)
        y = (index * lines // len(rows)) * line_height
        bar = f"M{x:.1f} {y:.1f}h{width:.1f}v{line_height * 0.8:.1f}h{-width:.1f}z"
        paths.setdefault(row.status_class, []).append(bar)
    ticks = [
        {"x": CHART_WIDTH * share, "label": f"+{human_duration(span * share)}" if share else "0"}
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {"height": lines * line_height, "paths": paths, "ticks": ticks}
