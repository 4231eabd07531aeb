"""Cutting text for people: never through a character a reader sees as one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

PATH_CUT = 60
_PERCENT_CHAR = re.compile(r"%[0-9A-Fa-f]{2}(?:%[89ABab][0-9A-Fa-f])*")
_ZWJ = "\u200d"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")
_REGIONAL_INDICATORS = ("\U0001f1e6", "\U0001f1ff")


def cut_path(path: str, limit: int = PATH_CUT) -> str:
    """The path's first `limit` characters and `…`, never cutting through one character.

    A character here is what a reader sees as one: a letter with its combining marks, an emoji
    sequence, a regional-indicator flag, or a percent-escaped UTF-8 sequence (`%E2%9C%93`).
    """
    if len(path) <= limit:
        return path
    cut = 0
    for end in _character_ends(path):
        if end > limit:
            break
        cut = end
    return path[:cut] + "…"


def _character_ends(text: str) -> Iterator[int]:
    """Offsets where one visible character of `text` ends, in order."""
    index = 0
    while index < len(text):
        escape = _PERCENT_CHAR.match(text, index) if text[index] == "%" else None
        index = escape.end() if escape else _cluster_end(text, index)
        yield index


def _cluster_end(text: str, start: int) -> int:
    index = start + 1
    if _is_regional_indicator(text[start]) and index < len(text):
        index += _is_regional_indicator(text[index])
    while index < len(text):
        if text[index] == _ZWJ:
            index += 2
        elif _extends(text[index]):
            index += 1
        else:
            break
    return min(index, len(text))


def _extends(char: str) -> bool:
    """Whether a character belongs to the one before it: a combining mark or a skin tone."""
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me") or _SKIN_TONES[0] <= char <= _SKIN_TONES[1]
    )


def _is_regional_indicator(char: str) -> bool:
    return _REGIONAL_INDICATORS[0] <= char <= _REGIONAL_INDICATORS[1]
