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


def human_duration(ms: float | None) -> str:
    """Milliseconds as people read them: `4.2 ms`, `180 ms`, `1.25 s`, `3 min 5 s`, `1 h 2 min`."""
    if ms is None:
        return "—"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
