"""A cheap check that a filter expression will parse quickly, run before mitmproxy's parser.

mitmproxy's filter grammar (pyparsing's `infix_notation`) re-parses every operand once per
precedence level, so with pyparsing 3.2 (mitmproxy 11) the cost multiplies with each level
of nesting: measured on the test machine, `(` … `)` 4 deep 0.09-0.12 s, 5 deep 0.4 s,
6 deep 2.5 s, 7 deep 9 s; `!` 10 deep 0.5 s, 13 deep 2.5 s; `!(` 4 deep 1.6 s, 5 deep 13 s;
30 parentheses or 100 `!` raise `RecursionError`. The cost also adds up over the operands:
40 groups `(((~m GET)))` take 1.0 s. pyparsing 3.3 (mitmproxy 12) parses all of these in
milliseconds. A thread does not help (the parser holds the GIL) and pyparsing's packrat
cache is process-wide, changes mitmproxy's own parsing and still overflows the stack at
20 parentheses, so mitmtape refuses such strings before they reach the parser.

The guard estimates the parser's work: every token costs the product of the nesting it sits
in, ×4 per open parenthesis and ×2 per pending `!` (the measured growth per level).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Longest filter accepted. 2,900 characters of `~q ~q …` (the work limit) parse in 0.13 s on
# mitmproxy 11; one quoted value of 4,000 characters in 0.01 s; a word of 1,000,000 in 0.9 s.
MAX_FILTER_LENGTH = 4_000
# Deepest nesting accepted, open parentheses and pending `!` counted together. Parentheses on
# mitmproxy 11: 4 deep 0.09-0.17 s, 5 deep 0.4 s, 6 deep 2.5 s.
MAX_FILTER_DEPTH = 4
# Most estimated work accepted, in units of one token at no nesting. Measured on mitmproxy 11
# at 0.1-0.45 ms a unit; the slowest strings at this limit took 0.33 s on mitmproxy 11 on a
# loaded machine (groups `((~m GET))` side by side), 0.03 s on mitmproxy 12.
MAX_FILTER_WORK = 1_000

PAREN_FACTOR = 4
NOT_FACTOR = 2
# A token costs as much as this many characters of a value: mitmproxy 11 re-matches a quoted
# value at every re-parse, 1.4 µs a character per unit of nesting (4,000 quoted characters
# 4 parentheses deep took 1.6 s).
TOKEN_CHARACTERS = 64

# mitmproxy's quoted values: `"..."` or `'...'`, backslash escapes, no line break inside.
_QUOTED = {quote: re.compile(rf"{quote}(?:[^{quote}\n\r\\]|\\.)*{quote}") for quote in "\"'"}
_OPERATORS = "&|"


class FilterTooComplex(ValueError):
    """A filter expression refused before parsing; the message names the measure and limit."""


@dataclass
class _Level:
    """One open parenthesis (or the top level) and the `!` pending inside it."""

    weight: int
    nots: int = 0


@dataclass
class FilterMeasure:
    """How deep a filter expression nests and how much parsing work it is estimated at."""

    levels: list[_Level] = field(default_factory=lambda: [_Level(weight=1)])
    depth: int = 0
    deepest: int = 0
    characters: int = 0  # work, in characters at no nesting

    @property
    def work(self) -> int:
        return self.characters // TOKEN_CHARACTERS

    @property
    def weight(self) -> int:
        return self.levels[-1].weight * NOT_FACTOR ** self.levels[-1].nots

    def token(self, length: int = 1) -> None:
        self.characters += self.weight * (TOKEN_CHARACTERS + length)

    def character(self) -> None:
        """One more character of a word already started."""
        self.characters += self.weight

    def open(self) -> None:
        self.token()
        self.levels.append(_Level(weight=self.weight * PAREN_FACTOR))
        self._deeper(1)

    def negate(self) -> None:
        self.levels[-1].nots += 1
        self._deeper(1)
        self.token()

    def operator(self) -> None:
        """`&` or `|`: `!` binds tighter, so the pending ones have their operand."""
        self.token()
        self._deeper(-self.levels[-1].nots)
        self.levels[-1].nots = 0

    def close(self) -> None:
        """`)`: the group ends, and so do the `!` before it (the group was their operand)."""
        if len(self.levels) > 1:  # an unbalanced `)` is the parser's to refuse
            self._deeper(-1 - self.levels.pop().nots)
            self._deeper(-self.levels[-1].nots)
            self.levels[-1].nots = 0

    def _deeper(self, levels: int) -> None:
        self.depth += levels
        self.deepest = max(self.deepest, self.depth)


def check_filter(expression: str) -> None:
    """Raise `FilterTooComplex` for a string mitmproxy's parser could take seconds on.

    Conservative where the grammar is ambiguous (a `!` that starts a word counts as a
    negation): a string this accepts parses in well under a second on mitmproxy 11 and 12.
    """
    if len(expression) > MAX_FILTER_LENGTH:
        raise FilterTooComplex(
            f"filter expression is {len(expression):,} characters long; "
            f"the limit is {MAX_FILTER_LENGTH:,}"
        )
    scan = measure_filter(expression)
    if scan.deepest > MAX_FILTER_DEPTH:
        raise FilterTooComplex(
            f"filter expression nests {scan.deepest:,} levels deep (parentheses and `!` "
            f"together); the limit is {MAX_FILTER_DEPTH}"
        )
    if scan.work > MAX_FILTER_WORK:
        raise FilterTooComplex(
            f"filter expression is too complex to parse quickly ({scan.work:,} units of "
            f"work, the limit is {MAX_FILTER_WORK:,}): use fewer nested groups or `!`"
        )


def measure_filter(expression: str) -> FilterMeasure:
    """Walk the expression outside quoted values, the way mitmproxy's grammar splits it."""
    scan = FilterMeasure()
    position, token_start = 0, True
    while position < len(expression):
        char = expression[position]
        quoted = _QUOTED[char].match(expression, position) if char in _QUOTED else None
        if quoted:
            scan.token(quoted.end() - position)
            position, token_start = quoted.end(), True
            continue
        token_start = _step(scan, char, token_start)
        position += 1
    return scan


def _step(scan: FilterMeasure, char: str, token_start: bool) -> bool:
    """Account for one character outside quotes; whether the next one starts a token."""
    if char.isspace():
        return True
    if char == "(":
        scan.open()
        return True
    if char == ")":
        scan.close()
        return True
    if token_start and char == "!":
        scan.negate()
        return True
    if token_start and char in _OPERATORS:
        scan.operator()
        return True
    if char == "~" or token_start:
        scan.token()
    else:
        scan.character()
    return False
