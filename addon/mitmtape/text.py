"""Numbers for people, shared by the command line, artifact summaries and messages."""

from __future__ import annotations


def human_size(size: float) -> str:
    """Bytes in decimal units as file managers show them: `512 B`, `3.2 KB`, `1.4 MB`."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def count(number: int, noun: str) -> str:
    """`1 flow`, `1,247 flows`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
