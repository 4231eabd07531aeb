"""Pages of flows by key, not by offset: the cursor a page hands out and the SQL that reads on.

A page in either order ends with a key `(started_at, id)`; the next page starts after it with an
index seek, so the millionth flow costs what the first does. A cursor is opaque to clients (base64
of a small JSON array) and carries the page's order and the total counted for the first page, so
paging on never counts again.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from mitmtape.model import FlowRecord, format_time
from mitmtape.store.errors import StoreError

Order = Literal["asc", "desc"]
ORDERS: tuple[Order, ...] = ("asc", "desc")
# A cursor's form; a cursor of another version (an older server's) is refused, not misread.
CURSOR_VERSION = 1
# Longer than any cursor this module writes (two keys of ~30 characters, a count): refused unread.
CURSOR_MAX_CHARS = 512


class InvalidCursor(StoreError):
    """A cursor this store did not hand out (or a damaged one)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: its last (or, `backward`, its first) key, order and carried total."""

    started_at: str
    flow_id: str
    order: Order = "asc"
    # True: the page before this key (a page's `prev`), read against the order and turned round.
    backward: bool = False
    total: int | None = None
    estimated: bool = False

    def encode(self) -> str:
        document = [
            CURSOR_VERSION,
            self.started_at,
            self.flow_id,
            self.order,
            int(self.backward),
            self.total,
            int(self.estimated),
        ]
        text = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        refused = InvalidCursor("the cursor is not one this server gave out (use a page's next)")
        if not text or len(text) > CURSOR_MAX_CHARS:
            raise refused
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            document = json.loads(raw)
        except (binascii.Error, ValueError, RecursionError):
            raise refused from None
        if not (isinstance(document, list) and len(document) == 7):
            raise refused
        version, started_at, flow_id, order, backward, total, estimated = document
        well_formed = (
            version == CURSOR_VERSION
            and isinstance(started_at, str)
            and isinstance(flow_id, str)
            and order in ORDERS
            and backward in (0, 1)
            and estimated in (0, 1)
            and (total is None or (type(total) is int and total >= 0))
        )
        if not well_formed:
            raise refused
        return cls(started_at, flow_id, order, bool(backward), total, bool(estimated))


@dataclass(slots=True)
class FlowPage:
    """One page of flows in the order asked, the total (maybe estimated) and where to go on."""

    records: list[FlowRecord]
    total: int
    order: Order = "asc"
    estimated: bool = False
    offset: int = 0
    next: str | None = None
    prev: str | None = None


def check_order(order: str) -> Order:
    if order not in ORDERS:
        raise StoreError(f"order must be asc or desc, not {order!r}")
    return order  # type: ignore[return-value]


def seek(cursor: Cursor | None, order: Order) -> tuple[str, str, list[Any]]:
    """The key condition (after ` AND `), the SQL order and its parameters for reading on from
    `cursor` in a page of `order`: forward past the key, or backward before it."""
    reading: Order = order
    if cursor is not None and cursor.backward:
        reading = "desc" if order == "asc" else "asc"
    direction = "ASC" if reading == "asc" else "DESC"
    if cursor is None:
        return "", f"started_at {direction}, id {direction}", []
    comparison = ">" if reading == "asc" else "<"
    return (
        f" AND (started_at, id) {comparison} (?, ?)",
        f"started_at {direction}, id {direction}",
        [cursor.started_at, cursor.flow_id],
    )


def links(
    records: list[FlowRecord],
    cursor: Cursor | None,
    order: Order,
    more: bool,
    counted: tuple[int, bool],
    offset: int = 0,
) -> tuple[str | None, str | None]:
    """The `next` and `prev` cursors of a page whose rows are `records` (in `order`).

    `more` says whether rows lie beyond the page in the direction it was read; a page read
    backward always has a next one (the page it was reached from), a forward one after a
    cursor or an offset always has a prev one.
    """
    if not records:
        return None, None
    total, estimated = counted
    carried = Cursor("", "", order, False, total, estimated)
    backward = cursor is not None and cursor.backward
    has_next = True if backward else more
    has_prev = more if backward else (cursor is not None or offset > 0)
    last, first = records[-1], records[0]
    following = replace(carried, started_at=format_time(last.started_at), flow_id=last.id)
    preceding = replace(
        carried, started_at=format_time(first.started_at), flow_id=first.id, backward=True
    )
    return (
        following.encode() if has_next else None,
        preceding.encode() if has_prev else None,
    )
