"""One rule for values out of range, checked on every imported record before the store sees it.

A field that identifies the exchange (method, URL, status, port) out of range makes the entry
meaningless: it is skipped and reported. A measurement (a duration, a timing, a timestamp) or an
extension field out of range is only a number nobody can use: that value is dropped, left
unknown as the spec writes unknown (-1 for a timing phase, null where the field is nullable),
and the entry is kept with a note. Numbers must be finite and fit a signed 64-bit integer, which
is what SQLite stores and what every JSON reader takes back, so an export always re-imports.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mitmtape.importers.sniff import EntryError
from mitmtape.model import (
    PORT_MAX,
    TIMING_PHASES,
    UNKNOWN_TIME,
    FlowRecord,
    Timings,
    WebSocketMessage,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
STATUS_MIN, STATUS_MAX = 0, 999
PORT_MIN = 0
# An HTTP method is a token (RFC 9110, section 5.6.2); no real one comes near this length.
MAX_METHOD_LENGTH = 64
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1," + str(MAX_METHOD_LENGTH) + "}")
# How much of a bad value a message shows: a hostile one may be megabytes long.
SHOWN_LENGTH = 40
# Extension objects whose fields are dropped one by one; `port` in them must be a port.
EXTENSIONS = ("metadata", "client", "server")


def check_record(record: FlowRecord) -> list[str]:
    """Raise EntryError for an identifying field out of range; drop any other such value.

    Returns one note `<field> out of range, dropped` per value dropped. Every record of an
    import passes here, so the common, fitting record is let through by the cheapest tests.
    """
    _check_identity(record)
    notes: list[str] = []
    duration = record.duration_ms
    if duration is not None and not fits(duration):
        record.duration_ms = None
        notes.append(_dropped("duration_ms"))
    timings = record.timings
    if timings is not None:
        phases = (timings.dns, timings.connect, timings.ssl, timings.send, timings.wait,
                  timings.receive)  # fmt: skip
        if not (min(phases) >= INT64_MIN and max(phases) <= INT64_MAX):
            notes += _drop_timings(timings)
    if record.websocket:
        notes += _drop_timestamps(record.websocket)
    if record.metadata or record.client is not None or record.server is not None:
        notes += _drop_extensions(record)
    return notes


def _check_identity(record: FlowRecord) -> None:
    request, response = record.request, record.response
    if not _METHOD.fullmatch(request.method):
        raise EntryError(f"request method {_shown(request.method)} is not an HTTP method")
    if not PORT_MIN <= request.port <= PORT_MAX:
        raise EntryError(f"request port {_shown(request.port)} out of range (0-65535)")
    if response is not None and not STATUS_MIN <= response.status <= STATUS_MAX:
        raise EntryError(f"response status {_shown(response.status)} out of range (0-999)")


def _drop_timings(timings: Timings) -> list[str]:
    notes = []
    for phase in TIMING_PHASES:
        if not fits(getattr(timings, phase)):
            setattr(timings, phase, UNKNOWN_TIME)
            notes.append(_dropped(f"timings.{phase}"))
    return notes


def _drop_timestamps(messages: list[WebSocketMessage]) -> list[str]:
    notes = []
    for number, message in enumerate(messages):
        if not fits(message.timestamp):
            message.timestamp = 0.0
            notes.append(_dropped(f"websocket[{number}].timestamp"))
    return notes


def _drop_extensions(record: FlowRecord) -> list[str]:
    notes = []
    for name in EXTENSIONS:
        fields = getattr(record, name)
        if isinstance(fields, dict):
            notes += _drop_extension_fields(name, fields)
        elif not _all_fit(fields):
            setattr(record, name, None)
            notes.append(_dropped(name))
    return notes


def _drop_extension_fields(name: str, fields: dict[str, Any]) -> list[str]:
    """Drop the fields of `metadata`, `client` or `server` holding a number out of range."""
    unusable = [
        key for key, value in fields.items() if type(value) is not str and not _usable(key, value)
    ]
    for key in unusable:
        del fields[key]
    return [_dropped(f"{name}.{key}") for key in unusable]


def fits(value: Any) -> bool:
    """A number that is finite and within signed 64 bits (floats too: SQLite, JSON readers)."""
    if isinstance(value, float):
        return math.isfinite(value) and INT64_MIN <= value < 2.0**63
    return not isinstance(value, int) or INT64_MIN <= value <= INT64_MAX


def _usable(key: str, value: Any) -> bool:
    if key == "port" and value is not None:
        return isinstance(value, int) and PORT_MIN <= value <= PORT_MAX
    return _all_fit(value)


def _all_fit(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_all_fit(item) for item in value.values())
    if isinstance(value, list):
        return all(_all_fit(item) for item in value)
    return fits(value)


def _dropped(field: str) -> str:
    return f"{field} out of range, dropped"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."
