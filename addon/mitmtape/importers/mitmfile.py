"""mitmproxy flow files (`mitmdump -w`, the console's `w`): one tnetstring per flow.

mitmproxy's own `FlowReader` stops the whole file at its first bad element, and its recursive
tnetstring parser raises RecursionError on deep nesting. So each element is cut out by its
length prefix first (a bad element is skipped and the next one read), its depth is checked
without recursion, and only then is it handed to mitmproxy's `FlowReader`, which migrates
files of older mitmproxy versions. HTTP flows become records the way a live recording makes
them (`flow_to_record`); TCP, UDP and DNS flows are skipped and counted.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mitmtape.importers.pipeline import Importer
from mitmtape.importers.sniff import EntryError, ImportFailed, Source
from mitmtape.model import FlowRecord

if TYPE_CHECKING:
    from mitmproxy import http

# tnetstring's own bound on a length prefix (mitmproxy's parser refuses longer ones).
LENGTH_DIGITS = 12
# A flow's state nests about 6 levels (flow, request, headers, a header); metadata that
# scripts add may go deeper, but not this deep. Deeper elements are skipped unparsed.
MAX_FLOW_DEPTH = 64
READ_CHUNK = 1024 * 1024
_FLOW_HEAD = re.compile(rb"\d{1,12}:\d{1,3}:[A-Za-z_]+[;,]")
_CONTAINERS = frozenset(b"]}")
TYPE_NAMES = {
    ord(","): "byte string",
    ord(";"): "text string",
    ord("#"): "integer",
    ord("^"): "float",
    ord("!"): "boolean",
    ord("~"): "null",
    ord("]"): "list",
}


def sniff(head: bytes) -> bool:
    """A tnetstring dictionary whose first key is a name: how every flow file begins."""
    return _FLOW_HEAD.match(head) is not None


@dataclass(slots=True)
class Element:
    """One tnetstring of the file, or why it could not be cut out; `servers` is shared by a
    file's elements, so a reused server connection is not charged a second connect."""

    data: bytes = b""
    problem: str = ""
    servers: set[str] = field(default_factory=set)


def check(source: Source) -> None:
    if not source.head.strip():
        raise ImportFailed(f"{source.name}: the file is empty")
    if not sniff(source.head):
        raise ImportFailed(f"{source.name}: not a mitmproxy flow file (no tnetstring flow)")


def entries(source: Source) -> Iterator[Element]:
    """The file's elements in order; after an unreadable length prefix nothing more can be
    found (the prefix is the only way to the next element), so that is the last one."""
    servers: set[str] = set()
    read = source.read_bytes
    while True:
        first = read(1)
        if not first:
            return
        prefix = _length_prefix(first, read)
        if prefix is None:
            yield Element(problem="not a tnetstring (no length prefix); the rest of the file "
                          "cannot be read", servers=servers)  # fmt: skip
            return
        rest = _read_exactly(read, int(prefix) + 1)
        if len(rest) <= int(prefix):
            yield Element(problem="the file ends inside this flow (truncated?)", servers=servers)
            return
        yield Element(prefix + b":" + rest, servers=servers)


def _length_prefix(first: bytes, read: Callable[[int], bytes]) -> bytes | None:
    digits, byte = b"", first
    while byte.isdigit() and len(digits) <= LENGTH_DIGITS:
        digits, byte = digits + byte, read(1)
    return digits if digits and byte == b":" else None


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = read(min(left, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def too_deep(data: bytes) -> bool:
    """Whether containers nest deeper than MAX_FLOW_DEPTH, walked by length prefixes alone
    (leaves such as bodies are jumped over, never parsed). A malformed element is not
    judged here: mitmproxy's parser says what is wrong with it."""
    ends: list[int] = []
    position, size = 0, len(data)
    while position < size:
        while ends and position >= ends[-1]:
            position = ends.pop() + 1
        if position >= size:
            break
        colon = data.find(b":", position, position + LENGTH_DIGITS + 1)
        if colon < 0 or not data[position:colon].isdigit():
            return False
        tag_at = colon + 1 + int(data[position:colon])
        if tag_at >= size:
            return False
        if data[tag_at] in _CONTAINERS:
            ends.append(tag_at)
            if len(ends) > MAX_FLOW_DEPTH:
                return True
            position = colon + 1
        else:
            position = tag_at + 1
    return False


def convert(element: Element) -> FlowRecord:
    """One element as a record, through mitmproxy's own reader; anything else is skipped."""
    if element.problem:
        raise EntryError(element.problem)
    data = element.data
    if data[-1] != ord("}"):
        kind = TYPE_NAMES.get(data[-1], f"of unknown type {chr(data[-1])!r}")
        raise EntryError(f"not a flow: a tnetstring {kind}, where a flow is a dictionary")
    if too_deep(data):
        raise EntryError(f"nested deeper than {MAX_FLOW_DEPTH} levels")
    from mitmproxy import http  # only when a flow file is read: see _read_flow

    flow = _read_flow(data)
    if not isinstance(flow, http.HTTPFlow):
        raise EntryError(f"a {flow.type.upper()} flow (only HTTP flows are imported)")
    if flow.request is None:
        raise EntryError("an HTTP flow without a request")
    record = record_of(flow, element.servers)
    where = _not_utf8(record.to_json(bodies=False))
    if where:
        raise EntryError(f"{where} holds bytes that are not UTF-8 text")
    return record


def _read_flow(data: bytes) -> Any:
    # mitmproxy's reader (and the record builder on mitmproxy's types) load ~100 ms of modules;
    # every import loads this registry, so they come in only when a flow file is read.
    from mitmproxy import exceptions
    from mitmproxy import io as mitmproxy_io

    try:
        return next(iter(mitmproxy_io.FlowReader(io.BytesIO(data)).stream()))
    except exceptions.FlowReadException as exc:
        raise EntryError(f"not a flow mitmproxy can read: {_first_line(exc)}") from None
    except Exception as exc:  # a dictionary without a flow's fields fails anywhere in it
        raise EntryError(f"not a flow mitmproxy can read ({type(exc).__name__})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def record_of(flow: http.HTTPFlow, servers: set[str]) -> FlowRecord:
    """The record a live recording makes of the flow, plus what the exporter kept aside.

    A body mitmproxy did not keep (`None`: it was streamed) is recorded as streamed.
    """
    from mitmtape.capture.record import KEPT_KEY, flow_to_record

    for message in (flow.request, flow.response):
        if message is not None and message.raw_content is None:
            message.stream = True
    record = flow_to_record(flow, "", servers)
    servers.add(flow.server_conn.id)
    kept = flow.metadata.get(KEPT_KEY)
    if isinstance(kept, dict):
        tags, metadata = kept.get("tags"), kept.get("metadata")
        if isinstance(tags, list):
            record.tags = [str(tag) for tag in tags]
        if isinstance(metadata, dict) and _is_json(metadata):
            record.metadata = {**metadata, **record.metadata}
    return record


def _not_utf8(value: object, where: str = "the flow") -> str:
    """The first field whose text cannot be stored (mitmproxy keeps odd bytes of a URL or a
    header as lone surrogates), or ""."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _not_utf8(item, str(key))
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _not_utf8(item, where)
            if found:
                return found
    return ""


def _is_json(value: object) -> bool:
    """Whether the value is what mitmtape JSON can hold (a tnetstring may hold bytes)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


MITM = Importer(
    name="mitm",
    sniff=sniff,
    described="mitmproxy flow file",
    suffixes=(".mitm",),
    check=check,
    entries=entries,
    convert=convert,
    any_name=True,
)
