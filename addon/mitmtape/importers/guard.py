"""The byte filter between an import file and the JSON parser: hostile JSON made harmless.

ijson's C backend (yajl) is fast, and it is what parses every import, but some input breaks it:
its memory grows with the square of the nesting depth (50,000 nested `[` cost 6 GB), it stops
the whole file at an integer beyond 64 bits or a float beyond a double, and at a lone UTF-16
surrogate escape. This filter rewrites the bytes on their way to the parser, a chunk at a time
and mostly with C-level regex and bytes operations, so the common file costs little:

- a container nested deeper than MAX_JSON_DEPTH is replaced, whole, by a marker string, so the
  parser never sees the depth; the import skips the entry holding the marker, or refuses the
  file when the marker landed outside the entries;
- a number the parser cannot hold becomes the nearest double (the largest one on overflow), so
  the importer's range rules drop or refuse it like any other value out of range;
- a lone surrogate escape becomes `\\ufffd` (same length, so byte offsets stay right).

Only valid JSON is read exactly; on invalid JSON the parser stops at the first bad byte anyway.
"""

from __future__ import annotations

import math
import re
import secrets
import sys
from dataclasses import dataclass
from itertools import accumulate, repeat

MAX_JSON_DEPTH = 64
# A chunk is cut where no escape sequence or number can be split; the cut is looked for in its
# last SAFE_CUT_WINDOW bytes (a file with no such place there is passed on uncut).
SAFE_CUT_WINDOW = 4096
# Integers of fewer digits always fit in 64 bits.
INT64_DIGITS = 19
INT64_MAX = 2**63 - 1
# How many rounds of removing innermost bracket pairs the cheap depth bound tries.
PAIR_PASSES = 8

# The parts of a string that could hide a quote, replaced by bytes of the same length, so a
# split on `"` alternates outside / inside strings and every offset still points at the file.
_ESCAPED_BACKSLASH, _ESCAPED_QUOTE, _PLACEHOLDER = b"\\\\", b'\\"', b"__"
# The fast path reads a view of the chunk, a third to two thirds of its size, made by one
# translate: quotes, brackets, what numbers are written with (the separators keep neighbouring
# numbers apart), and backslashes with the byte after them. In valid JSON that byte is one of
# `"\/bfnrtu`, so escapes pair up in the view as in the file; the letters are kept as `x`,
# a `u` as `U`, so `\U` tells a chunk that holds a `\u` escape (a surrogate may need fixing).
_VIEW = bytes.maketrans(b"/bfnrtu", b"xxxxxxU")
_NOT_VIEWED = bytes(set(range(256)) - set(b'"\\[]{},:0123456789eE/bfnrtu'))
_UNICODE_ESCAPE_IN_VIEW = b"\\U"
_TOKEN = re.compile(rb'"[^"]*"?|[\[\]{}]|-?[0-9][0-9.eE+-]*')
# Digits as 0, exponent marks as e, signs deleted: a long run of 0 or an e with 3 digits is
# a number that may not fit; only then is the chunk read token by token.
_NUMBER_VIEW = bytes.maketrans(b"0123456789E", b"0000000000e")
_LONG_INTEGER, _LONG_EXPONENT = b"0" * INT64_DIGITS, b"e000"
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(
    rb"(\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# Brackets as 2 (open) and 0 (close), so `value - 1` is the change in depth.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_CUT_AFTER = tuple(bytes([byte]) for byte in b'",:[]{} \t\r\n')
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_QUOTE = ord('"')


@dataclass(slots=True)
class DeepValue:
    """The first value replaced for its depth: where it began (byte) and how deep it went."""

    offset: int
    depth: int


class JsonGuard:
    """Feed it a file's bytes in order; it hands back what the JSON parser may safely read."""

    def __init__(self) -> None:
        self.marker = f"mitmtape: nested deeper than {MAX_JSON_DEPTH} levels {secrets.token_hex(8)}"
        self._marker_json = b'"%s"' % self.marker.encode("ascii")
        self.replaced = 0
        self.claimed = 0
        self.first_deep: DeepValue | None = None
        self._depth = 0
        self._in_string = False
        self._swallowing = False
        self._carry = b""
        self._consumed = 0
        self._last: tuple[int, bytes] = (0, b"")

    def feed(self, data: bytes, final: bool = False) -> bytes:
        """The next part of the file, rewritten; a few bytes may wait for the next call."""
        data = self._carry + data
        cut = len(data) if final else _safe_cut(data)
        data, self._carry = data[:cut], data[cut:]
        if not data:
            return b""
        out = self._scan(data)
        if out:
            self._last = (self._consumed, out)
        self._consumed += len(data)
        return out

    def unclaimed(self) -> bool:
        """Whether a replaced value has not yet been found in an entry."""
        return self.claimed < self.replaced

    def claim(self, value: object) -> int:
        """How many markers `value` (a parsed entry) holds; they count as found."""
        found = _count(value, self.marker)
        self.claimed += found
        return found

    def error_offset(self, message: str | bytes) -> int | None:
        """The file offset a yajl error message points at, from its context line."""
        text = message.encode("utf-8", "replace") if isinstance(message, str) else message
        lines = text.split(b"\n")
        if len(lines) < 2:
            return None
        start, chunk = self._last
        offset = _offset_in(lines[1], chunk)
        return None if offset is None else start + offset

    def _scan(self, data: bytes) -> bytes:
        view = data.translate(_VIEW, _NOT_VIEWED)
        view = view.replace(_ESCAPED_BACKSLASH, _PLACEHOLDER).replace(_ESCAPED_QUOTE, _PLACEHOLDER)
        parts = view.split(b'"')
        outside = b"".join(parts[1::2] if self._in_string else parts[::2])
        ends_in_string = self._in_string != (len(parts) % 2 == 0)
        brackets = outside.translate(None, _NOT_BRACKETS)
        if self._depth_leaves_bounds(brackets) or _maybe_huge_number(outside):
            out = self._exact(data)
        else:
            self._depth += 2 * (brackets.count(b"[") + brackets.count(b"{")) - len(brackets)
            out = b"" if self._swallowing else data
        self._in_string = ends_in_string
        # Escaped quotes and backslashes are gone from the view: a backslash is rare there.
        if b"\\" in view and _UNICODE_ESCAPE_IN_VIEW in view:
            return _fix_surrogates(out)
        return out

    def _depth_leaves_bounds(self, brackets: bytes) -> bool:
        """Whether this chunk goes deeper than the limit, or (while replacing) comes back."""
        opens = brackets.count(b"[") + brackets.count(b"{")
        closes = len(brackets) - opens
        if not self._swallowing:
            if self._depth + _peak_bound(brackets) <= MAX_JSON_DEPTH:
                return False
            return max(self._levels(brackets)) > MAX_JSON_DEPTH
        if closes == 0:
            self._note_depth(self._depth + opens)
            return False
        levels = list(self._levels(brackets))
        self._note_depth(max(levels))
        return min(levels) <= MAX_JSON_DEPTH

    def _levels(self, brackets: bytes) -> accumulate[int]:
        steps = map(int.__sub__, brackets.translate(_STEPS), repeat(1))
        return accumulate(steps, initial=self._depth)

    def _note_depth(self, depth: int) -> None:
        if self.first_deep is not None and self.replaced == 1:
            self.first_deep.depth = max(self.first_deep.depth, depth)

    def _exact(self, data: bytes) -> bytes:
        """Token by token, for the rare chunk that needs a value replaced."""
        neutral = data.replace(_ESCAPED_BACKSLASH, _PLACEHOLDER).replace(
            _ESCAPED_QUOTE, _PLACEHOLDER
        )
        start = neutral.find(b'"') + 1 if self._in_string else 0
        pieces: list[bytes] = []
        kept_from: int | None = None if self._swallowing else 0
        for token in _TOKEN.finditer(neutral, start):
            first = neutral[token.start()]
            if first in _OPEN:
                self._depth += 1
                if kept_from is not None and self._depth > MAX_JSON_DEPTH:
                    pieces += [data[kept_from : token.start()], self._marker_json]
                    self._begin_replacement(token.start())
                    kept_from = None
                self._note_depth(self._depth)
            elif first in _CLOSE:
                self._depth -= 1
                if kept_from is None and self._depth == MAX_JSON_DEPTH:
                    self._swallowing = False
                    kept_from = token.end()
            elif first != _QUOTE and kept_from is not None:
                fitted = fit_number(token[0])
                if fitted is not None:
                    pieces += [data[kept_from : token.start()], fitted]
                    kept_from = token.end()
        if kept_from is not None:
            pieces.append(data[kept_from:])
        return b"".join(pieces)

    def _begin_replacement(self, at: int) -> None:
        self._swallowing = True
        self.replaced += 1
        if self.first_deep is None:
            self.first_deep = DeepValue(self._consumed + at, self._depth)


def fit_number(token: bytes) -> bytes | None:
    """A number token the parser cannot hold, as the nearest double; None if it fits."""
    integer = not any(c in token for c in b".eE")
    if integer and _fits_int64(token):
        return None
    try:
        value = float(token)
    except ValueError:
        return None  # not a number after all: the parser says where
    if not math.isfinite(value):
        value = math.copysign(sys.float_info.max, value)
    elif not integer:
        return None
    return repr(value).encode("ascii")


def _fits_int64(token: bytes) -> bool:
    digits = len(token.lstrip(b"-"))
    if digits != INT64_DIGITS:
        return digits < INT64_DIGITS
    return -INT64_MAX - 1 <= int(token) <= INT64_MAX


def _safe_cut(data: bytes) -> int:
    """Where to cut so no escape (or surrogate pair) or number is split.

    After a structural byte or white space, which no escape or number holds; else before the
    last run of backslashes (and the high surrogate before it); with neither in the last
    SAFE_CUT_WINDOW bytes, nowhere (a short piece waits for more).
    """
    window = max(0, len(data) - SAFE_CUT_WINDOW)
    after = max(data.rfind(byte, window) for byte in _CUT_AFTER)
    if after >= 0:
        return after + 1
    slash = data.rfind(b"\\", window)
    if slash < 0:
        return len(data) if window else 0
    cut = len(data[: slash + 1].rstrip(b"\\"))
    if _HIGH_SURROGATE.fullmatch(data, max(0, cut - 6), cut):
        cut -= 6
    return cut


def _peak_bound(brackets: bytes) -> int:
    """At most how far above its start a bracket sequence reaches, cheaply: each pass of
    removing the innermost pairs lowers every peak by one; what is left rises by its opens."""
    passes = 0
    while passes < PAIR_PASSES:
        reduced = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if reduced == brackets:
            break
        brackets, passes = reduced, passes + 1
    return passes + brackets.count(b"[") + brackets.count(b"{")


def _maybe_huge_number(outside: bytes) -> bool:
    view = outside.translate(_NUMBER_VIEW, b"+-")
    return _LONG_INTEGER in view or _LONG_EXPONENT in view


def _fix_surrogates(data: bytes) -> bytes:
    if not _SURROGATE_HINT.search(data):
        return data
    return _SURROGATE.sub(lambda match: match[1] or b"\\ufffd", data)


def _count(value: object, marker: str) -> int:
    if isinstance(value, str):
        return value == marker
    if isinstance(value, dict):
        return sum(_count(item, marker) for item in value.values())
    if isinstance(value, list):
        return sum(_count(item, marker) for item in value)
    return 0


def _offset_in(shown: bytes, chunk: bytes) -> int | None:
    """yajl shows 30 bytes either side of the error, padded so the error sits at column 40."""
    rendered = chunk.replace(b"\n", b" ").replace(b"\r", b" ")
    for offset in range(min(30, len(chunk) + 1)):
        if shown == b" " * (40 - offset) + rendered[: offset + 30]:
            return offset
    found = rendered.find(shown[10:]) if len(shown) > 10 else -1
    return None if found < 0 else found + 30
