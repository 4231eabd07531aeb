"""Redaction for shared exports, done once, in the pipeline (issue 17).

Off by default, because an archive must be lossless. When on, the export pipeline hands every
format records already redacted (`redacted`), so no format masks anything itself and a format
added later is covered without a line of its own. Where secrets are looked for is `records.py`
(headers, cookies, URLs, bodies, WebSocket messages), what counts as one `names.py`, how a value
is masked `values.py` and `bodies.py`; `Tally` counts what was done so every door can say it.

Modes: `true` masks secrets and cuts the signature off JWTs (header and payload stay readable);
`strict` masks JWTs whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from mitmtape.export.redaction.names import CREDENTIAL_HEADERS, SENSITIVE_NAMES, SecretNames
from mitmtape.export.redaction.records import Redaction, redact_record
from mitmtape.export.redaction.tally import KINDS, Tally
from mitmtape.export.redaction.values import MASK
from mitmtape.model import FlowRecord

__all__ = [
    "CREDENTIAL_HEADERS",
    "KINDS",
    "MASK",
    "MODES",
    "SENSITIVE_NAMES",
    "RedactMode",
    "Redaction",
    "SecretNames",
    "Tally",
    "parse_mode",
    "redact_one",
    "redact_record",
    "redacted",
    "redaction_for",
    "split_list",
]

# `false` (the default), `true`, `strict`: the words every door takes (spec section 9).
RedactMode = bool | Literal["strict"]
MODES: dict[str, RedactMode] = {"false": False, "true": True, "strict": "strict"}


def parse_mode(value: str | bool) -> RedactMode:
    """`false`, `true` or `strict` (any case) as the mode they name; a bool is itself."""
    if isinstance(value, bool):
        return value
    try:
        return MODES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"redaction must be false, true or strict, not {value!r}") from None


def split_list(value: str) -> tuple[str, ...]:
    """`a, b,,c` → (a, b, c): the comma-separated options `tape_redact_names` and
    `tape_redact_bodies`."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def redaction_for(
    mode: RedactMode, names: Sequence[str] = (), bodies: Sequence[str] = ()
) -> Redaction | None:
    """What to apply for a mode, or None when redaction is off."""
    if mode is False:
        return None
    return Redaction(strict=mode == "strict", names=tuple(names), bodies=tuple(bodies))


def redacted(
    records: Iterable[FlowRecord], redaction: Redaction, tally: Tally
) -> Iterator[FlowRecord]:
    """What the pipeline hands a format when redaction is on; `tally` grows as it streams."""
    return (redact_record(record, redaction, tally) for record in records)


def redact_one(
    record: FlowRecord, mode: RedactMode, names: Sequence[str] = (), bodies: Sequence[str] = ()
) -> tuple[FlowRecord, Tally | None]:
    """One record as a door that hands out a single flow (copy as code) shows it, and what was
    masked; None when redaction is off, so the door says nothing about it."""
    redaction = redaction_for(mode, names, bodies)
    if redaction is None:
        return record, None
    tally = Tally()
    return redact_record(record, redaction, tally), tally
