"""JSON written as a stream: an array item by item, so a document of any size needs the memory
of one item. The JSON, HAR and Postman exports write their entry lists through it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

INDENT = "  "
# One encoder for every compact item: `json.dumps` builds a new one per call. Items are trees of
# plain dicts and lists made for the export, so the check for cycles has nothing to find.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dump(value: Any, depth: int, compact: bool = False) -> str:
    """`value` as indented JSON, for a place `depth` levels deep in a document.

    `compact` writes it on one line instead: Python's C encoder only runs without `indent`,
    and is several times faster, which matters for the large HAR and Postman entry lists.
    """
    if compact:
        return _COMPACT.encode(value)
    text = json.dumps(value, indent=len(INDENT), ensure_ascii=False)
    return text.replace("\n", "\n" + INDENT * depth)


def write_json_array(
    out: TextIO, items: Iterable[Any], depth: int = 0, compact: bool = False
) -> None:
    """Write a JSON array item by item, each written as soon as it is read.

    Items are indented like the document, or one item per line when `compact`.
    """
    prefix = INDENT * (depth + 1)
    separator = "["
    for item in items:
        out.write(f"{separator}\n{prefix}{dump(item, depth + 1, compact)}")
        separator = ","
    out.write("[]" if separator == "[" else f"\n{INDENT * depth}]")
