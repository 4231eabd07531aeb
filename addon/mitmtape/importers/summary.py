"""An import's outcome in one line for people, shared by the addon and the command line."""

from __future__ import annotations

from mitmtape.humanize import count
from mitmtape.importers.pipeline import ImportResult

ERRORS_SHOWN = 3


def outcome(result: ImportResult) -> str:
    """`Imported 142 flows (3 skipped: entry 17: invalid URL; ...)`."""
    text = f"Imported {count(result.imported, 'flow')}"
    if result.skipped:
        shown = "; ".join(result.errors[:ERRORS_SHOWN])
        more = "; ..." if len(result.errors) > ERRORS_SHOWN else ""
        text += f" ({result.skipped:,} skipped: {shown}{more})"
    return text
