"""An import's outcome in one line for people, shared by the addon and the command line."""

from __future__ import annotations

from mitmtape.importers.pipeline import ImportResult
from mitmtape.text import count

ERRORS_SHOWN = 3


def outcome(result: ImportResult) -> str:
    """`Imported 142 flows (3 skipped: entry 17: invalid URL; ...)`; with nothing skipped but
    values dropped, `Imported 142 flows (entry 4: timings.wait out of range, dropped)`."""
    text = f"Imported {count(result.imported, 'flow')}"
    if not result.errors:
        return text
    shown = "; ".join(result.errors[:ERRORS_SHOWN])
    more = "; ..." if len(result.errors) > ERRORS_SHOWN else ""
    skipped = f"{result.skipped:,} skipped: " if result.skipped else ""
    return f"{text} ({skipped}{shown}{more})"
