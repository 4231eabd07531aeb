"""Sessions and flow records, and their mitmtape JSON form.

The record is mitmtape's own shape of one HTTP exchange (spec section 1). It is plain data with
no mitmproxy objects in it, so the store, exporters, importers and code generators can share it
without knowing where the traffic came from.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from ulid import ULID, base32

Headers = list[tuple[str, str]]
Source = Literal["proxy", "replay", "import"]
SOURCES: tuple[str, ...] = ("proxy", "replay", "import")

TEXT_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/graphql",
        "application/x-www-form-urlencoded",
    }
)


class RecordFormatError(ValueError):
    """A mitmtape JSON object that cannot become a record; the message names the field."""


# Crockford's base32 (python-ulid's alphabet) two digits (10 bits) at a time: 1,024 pairs.
_DIGIT_PAIRS = [first + second for first in base32.ENCODE for second in base32.ENCODE]
# A ULID's 128 bits as 13 pairs of digits (its text starts with 2 zero bits), highest first.
_PAIR_SHIFTS = range(120, -1, -10)


def new_id() -> str:
    """A fresh ULID: sortable by creation time, so ids double as a stable tie-break order."""
    return ulid_text(ULID().bytes)


def ulid_text(raw: bytes) -> str:
    """A ULID's 16 bytes as its 26 digits, the text `str(ULID)` writes.

    Every captured flow gets an id in the writer process: python-ulid encodes a digit at a
    time (~5 µs a flow on a slow box), a table of digit pairs in half that.
    """
    value = int.from_bytes(raw)
    return "".join([_DIGIT_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, the one time format mitmtape writes."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # `isoformat()` without a `timespec` is the fastest form; it leaves out a zero fraction.
    text = moment.isoformat()[:-6]  # `+00:00` becomes `Z`
    return f"{text}Z" if moment.microsecond else f"{text}.000000Z"


# The Unix times `timestamp_text` writes itself: from 1970 up to the last second of 9999, where
# datetime's four-digit years end (a time in that second may round up past them); from here
# on datetime writes them, or refuses. Distinct seconds whose text is remembered (flows come in
# time order).
TIMESTAMP_TEXT_LAST = 253_402_300_799
SECOND_TEXT_CACHE_SIZE = 64


def timestamp_text(seconds: float) -> str:
    """`format_time(datetime.fromtimestamp(seconds, UTC))`, in half its time.

    Every captured flow's start passes here in the writer process. The microseconds are
    rounded as datetime rounds them (half to even), and the second's text is made once.
    """
    if not 0 <= seconds < TIMESTAMP_TEXT_LAST:
        return format_time(datetime.fromtimestamp(seconds, UTC))
    fraction, whole = math.modf(seconds)
    micro = round(fraction * 1_000_000)
    if micro == 1_000_000:
        micro, whole = 0, whole + 1
    return f"{_second_text(int(whole))}.{micro:06d}Z"


@lru_cache(maxsize=SECOND_TEXT_CACHE_SIZE)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def parse_time(text: str) -> datetime:
    """Read an RFC 3339 time with or without fractions, `Z` or an offset; naive means UTC."""
    try:
        moment = datetime.fromisoformat(text)  # the common form, read as it is
    except ValueError:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def media_type(content_type: str | None) -> str:
    """The bare lower-case media type: `text/html; charset=x` → `text/html`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_text_type(content_type: str | None) -> bool:
    """Whether a content type names text, by the spec's list."""
    kind = media_type(content_type)
    return (
        kind.startswith("text/") or kind in TEXT_CONTENT_TYPES or "+json" in kind or "+xml" in kind
    )


def is_text(content_type: str | None, data: bytes) -> bool:
    """The spec's text detection: a text content type whose bytes decode as UTF-8."""
    if not is_text_type(content_type):
        return False
    if data.isascii():  # most text is; this needs no decoded copy
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def header_value(headers: Headers, name: str) -> str | None:
    """The first value of a header, case-insensitively, or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


# A URL as nearly every flow has one: `scheme://host[:port]`, a host of letters, digits, dots
# and dashes, then the path up to `?`, `#` or the end. One regex splits it in a fifth of
# urlsplit's time; anything else (user info, IPv6, an empty port, the tabs and line breaks
# urlsplit removes) is left to urllib, which this agrees with.
_PLAIN_URL = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([A-Za-z0-9._~-]+)(?::([0-9]{1,5}))?((?:/[^?#]*)?)(?=[?#]|\Z)"
)
PORT_MAX = 65535


def plain_url(url: str) -> tuple[str, str, int | None, str] | None:
    """`(scheme, host, port, path)` of a plain URL, as urlsplit and its `hostname` and `port`
    give them (scheme and host lower-cased, port None when not written); None for any other
    URL, which the caller hands to urlsplit."""
    match = _PLAIN_URL.match(url)
    if match is None or "\t" in url or "\r" in url or "\n" in url:  # urlsplit removes them
        return None
    scheme, host, port, path = match.groups()
    number = None if port is None else int(port)
    if number is not None and number > PORT_MAX:
        return None
    return scheme.lower(), host.lower(), number, path


Omitted = Literal["streamed", "too-large", "redacted"]
# Why a body was not kept (spec section 9), and the sentence every door shows for it.
OMISSIONS: dict[str, str] = {
    "streamed": "not recorded: mitmproxy streamed it (stream_large_bodies)",
    "too-large": "not recorded: larger than tape_max_body_size",
    "redacted": "not exported: its URL matches a redact-bodies pattern",
}
# The largest size a body object may state: SQLite's INTEGER, the store's size columns.
MAX_BODY_SIZE = 2**63 - 1


@dataclass(slots=True)
class Body:
    """Bytes as they crossed the wire (still content-encoded), or why they were not kept.

    `wire_size` keeps the real size where the bytes are not here: a record read for a listing
    (sizes stay right without loading what nobody will print), or a body mitmtape did not keep,
    whose `omitted` says why.
    """

    data: bytes = b""
    wire_size: int = field(default=0, compare=False)
    omitted: Omitted | None = None

    @property
    def size(self) -> int:
        return len(self.data) or self.wire_size

    def to_json(self) -> dict[str, Any]:
        try:
            body = {"encoding": "utf-8", "data": self.data.decode("utf-8"), "size": self.size}
        except UnicodeDecodeError:
            encoded = base64.b64encode(self.data).decode("ascii")
            body = {"encoding": "base64", "data": encoded, "size": self.size}
        if self.omitted is not None:
            body["omitted"] = self.omitted
        return body

    @classmethod
    def from_json(cls, value: Any) -> Body:
        """Accept the object form, a bare string (taken as UTF-8 text) or null (empty)."""
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(value.encode("utf-8"))
        if not isinstance(value, dict):
            raise RecordFormatError(f"body must be an object, got {type(value).__name__}")
        if value.get("omitted") is not None:
            return cls._omitted_from_json(value)
        data = value.get("data") or ""
        encoding = str(value.get("encoding") or "utf-8").lower()
        if encoding == "base64":
            try:
                return cls(base64.b64decode(data, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise RecordFormatError(f"body is not valid base64: {exc}") from None
        if encoding not in ("utf-8", "utf8", "text"):
            raise RecordFormatError(f"unknown body encoding {encoding!r}")
        return cls(str(data).encode("utf-8"))

    @classmethod
    def _omitted_from_json(cls, value: dict[str, Any]) -> Body:
        """A body that was not kept: its reason and the size that crossed the wire.

        A size that is not a whole number within range is not known, so it reads as 0.
        """
        reason = value["omitted"]
        if reason not in OMISSIONS:
            known = " or ".join(repr(name) for name in OMISSIONS)
            raise RecordFormatError(f"body omitted must be {known}, not {reason!r}")
        size = value.get("size")
        fits = isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_BODY_SIZE
        return cls(b"", size if fits else 0, reason)


def headers_to_json(headers: Headers) -> list[list[str]]:
    return list(map(list, headers))


SHARED_HEADERS_KEPT = 4096


class _SharedHeaders:
    """One copy of each header pair seen lately, handed out for every record that has it.

    Most of a record's strings are its headers, and most headers repeat from flow to flow (the
    same user agent, accept lines, server); a batch of records read for an export would hold
    thousands of equal copies. Bounded: past SHARED_HEADERS_KEPT pairs it starts afresh.
    """

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], tuple[str, str]] = {}

    def trim(self) -> None:
        """Forget every pair once there are too many (a capture of ever-new cookies)."""
        if len(self.pairs) > SHARED_HEADERS_KEPT:
            self.pairs = {}


_SHARED_HEADERS = _SharedHeaders()


def headers_from_json(value: Any, where: str) -> Headers:
    """Pairs `[name, value]`; also accepts HAR-like `{name, value}` objects for convenience."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordFormatError(f"{where}.headers must be a list")
    pairs: Headers = []
    shared = _SHARED_HEADERS.pairs.setdefault
    for item in value:
        # What every stored record holds, tested first: a list of two strings.
        if type(item) is list and len(item) == 2:
            name, text = item
            if type(name) is str and type(text) is str:
                pair = (name, text)
                pairs.append(shared(pair, pair))
                continue
        pairs.append(_header_from_json(item, where))
    _SHARED_HEADERS.trim()
    return pairs


def _header_from_json(item: Any, where: str) -> tuple[str, str]:
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return str(item[0]), str(item[1])
    if isinstance(item, dict) and "name" in item:
        return str(item["name"]), str(item.get("value", ""))
    raise RecordFormatError(f"{where}.headers holds a malformed pair: {item!r}")


def _optional_headers(value: Any, where: str) -> Headers | None:
    return None if value is None else headers_from_json(value, where)


@dataclass(slots=True)
class Request:
    method: str
    url: str
    host: str = ""
    port: int = 0
    path: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=list)
    body: Body = field(default_factory=Body)
    trailers: Headers | None = None

    def __post_init__(self) -> None:
        if not self.host or not self.path or not self.port:
            self.fill_from_url()

    def fill_from_url(self) -> None:
        """Host, port and path derived from the URL where they were not given."""
        parts = urlsplit(self.url)
        self.host = self.host or (parts.hostname or "")
        if not self.port:
            try:
                explicit = parts.port
            except ValueError:
                explicit = None
            self.port = explicit or (443 if parts.scheme in ("https", "wss") else 80)
        self.path = self.path or (parts.path or "/")

    @property
    def content_type(self) -> str | None:
        return header_value(self.headers, "content-type")

    def to_json(self, body: bool = True) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "http_version": self.http_version,
            "headers": headers_to_json(self.headers),
            "body": self.body.to_json() if body else None,
            "trailers": None if self.trailers is None else headers_to_json(self.trailers),
        }

    @classmethod
    def from_json(cls, value: Any) -> Request:
        if not isinstance(value, dict):
            raise RecordFormatError("request must be an object")
        method = str(value.get("method") or "").strip()
        url = str(value.get("url") or "").strip()
        if not method:
            raise RecordFormatError("request has no method")
        if not url:
            raise RecordFormatError("request has no url")
        if plain_url(url) is None:
            _check_absolute(url)
        return cls(
            method=method,
            url=url,
            host=str(value.get("host") or ""),
            port=int(value.get("port") or 0),
            path=str(value.get("path") or ""),
            http_version=str(value.get("http_version") or "HTTP/1.1"),
            headers=headers_from_json(value.get("headers"), "request"),
            body=Body.from_json(value.get("body")),
            trailers=_optional_headers(value.get("trailers"), "request.trailers"),
        )


def _check_absolute(url: str) -> None:
    """Refuse a URL without a scheme and a host, or with a port that is not one."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise RecordFormatError(f"request url is not absolute: {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a port out of range (0-65535) or not a number
    except ValueError:
        raise RecordFormatError(f"request url has an invalid port: {url!r}") from None


@dataclass(slots=True)
class Response:
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=list)
    body: Body = field(default_factory=Body)
    trailers: Headers | None = None

    @property
    def content_type(self) -> str | None:
        return header_value(self.headers, "content-type")

    def to_json(self, body: bool = True) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "headers": headers_to_json(self.headers),
            "body": self.body.to_json() if body else None,
            "trailers": None if self.trailers is None else headers_to_json(self.trailers),
        }

    @classmethod
    def from_json(cls, value: Any) -> Response | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise RecordFormatError("response must be an object or null")
        try:
            status = int(value.get("status") or 0)
        except (TypeError, ValueError):
            raise RecordFormatError(
                f"response status is not a number: {value.get('status')!r}"
            ) from None
        return cls(
            status=status,
            reason=str(value.get("reason") or ""),
            http_version=str(value.get("http_version") or "HTTP/1.1"),
            headers=headers_from_json(value.get("headers"), "response"),
            body=Body.from_json(value.get("body")),
            trailers=_optional_headers(value.get("trailers"), "response.trailers"),
        )


TIMING_PHASES: tuple[str, ...] = ("dns", "connect", "ssl", "send", "wait", "receive")
UNKNOWN_TIME = -1


@dataclass(slots=True)
class Timings:
    """Phases in microseconds; -1 means mitmproxy could not know (e.g. a reused connection)."""

    dns: int = UNKNOWN_TIME
    connect: int = UNKNOWN_TIME
    ssl: int = UNKNOWN_TIME
    send: int = UNKNOWN_TIME
    wait: int = UNKNOWN_TIME
    receive: int = UNKNOWN_TIME

    def to_json(self) -> dict[str, int]:
        return {
            "dns": self.dns,
            "connect": self.connect,
            "ssl": self.ssl,
            "send": self.send,
            "wait": self.wait,
            "receive": self.receive,
        }

    @classmethod
    def from_json(cls, value: Any) -> Timings | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise RecordFormatError("timings must be an object or null")
        get = value.get
        try:
            return cls(
                int(get("dns", UNKNOWN_TIME)),
                int(get("connect", UNKNOWN_TIME)),
                int(get("ssl", UNKNOWN_TIME)),
                int(get("send", UNKNOWN_TIME)),
                int(get("wait", UNKNOWN_TIME)),
                int(get("receive", UNKNOWN_TIME)),
            )
        except (TypeError, ValueError):
            raise RecordFormatError("timings must hold integer microseconds") from None


@dataclass(slots=True)
class WebSocketMessage:
    from_client: bool
    type: Literal["text", "binary"]
    timestamp: float
    content: bytes

    def to_json(self) -> dict[str, Any]:
        if self.type == "text":
            text = self.content.decode("utf-8", errors="replace")
        else:
            text = base64.b64encode(self.content).decode("ascii")
        return {
            "from_client": self.from_client,
            "type": self.type,
            "timestamp": self.timestamp,
            "content": text,
        }

    @classmethod
    def from_json(cls, value: Any) -> WebSocketMessage:
        if not isinstance(value, dict):
            raise RecordFormatError("a websocket message must be an object")
        kind = value.get("type", "text")
        if kind not in ("text", "binary"):
            raise RecordFormatError(f"websocket message type must be text or binary, not {kind!r}")
        content = str(value.get("content") or "")
        if kind == "binary":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise RecordFormatError("binary websocket message is not base64") from None
        else:
            data = content.encode("utf-8")
        return cls(
            from_client=bool(value.get("from_client")),
            type=kind,
            timestamp=float(value.get("timestamp") or 0.0),
            content=data,
        )


@dataclass(slots=True)
class FlowRecord:
    request: Request
    id: str = field(default_factory=new_id)
    session_id: str = ""
    started_at: datetime = field(default_factory=utc_now)
    duration_ms: float | None = None
    source: str = "proxy"
    response: Response | None = None
    timings: Timings | None = None
    error: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    websocket: list[WebSocketMessage] | None = None

    @property
    def request_size(self) -> int:
        return self.request.body.size

    @property
    def response_size(self) -> int:
        return self.response.body.size if self.response else 0

    @property
    def status(self) -> int:
        """0 when there is no response, as CSV and HAR want it."""
        return self.response.status if self.response else 0

    def summary(self) -> dict[str, Any]:
        """The list columns of a flow: what listings show, with no headers or bodies."""
        return {
            "id": self.id,
            "started_at": format_time(self.started_at),
            "method": self.request.method,
            "url": self.request.url,
            "host": self.request.host,
            "path": self.request.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "request_size": self.request_size,
            "response_size": self.response_size,
            "content_type": media_type(self.response.content_type) if self.response else "",
            "source": self.source,
            "tags": list(self.tags),
            "error": self.error,
        }

    def to_json(self, bodies: bool = True) -> dict[str, Any]:
        """The mitmtape JSON form; without `bodies` (the store keeps them apart) they are null."""
        return {
            "id": self.id,
            "session_id": self.session_id,
            "started_at": format_time(self.started_at),
            "duration_ms": self.duration_ms,
            "source": self.source,
            "request": self.request.to_json(bodies),
            "response": self.response.to_json(bodies) if self.response else None,
            "timings": self.timings.to_json() if self.timings else None,
            "error": self.error,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "client": self.client,
            "server": self.server,
            "websocket": None
            if self.websocket is None
            else [message.to_json() for message in self.websocket],
        }

    @classmethod
    def from_json(cls, value: Any) -> FlowRecord:
        """Build a record from its JSON form; raises RecordFormatError naming what is wrong."""
        if not isinstance(value, dict):
            raise RecordFormatError(f"a flow must be an object, got {type(value).__name__}")
        if "request" not in value or value["request"] is None:
            raise RecordFormatError("flow has no request")
        started = value.get("started_at")
        try:
            started_at = parse_time(started) if started else utc_now()
        except (TypeError, ValueError):
            raise RecordFormatError(f"started_at is not an RFC 3339 time: {started!r}") from None
        duration = value.get("duration_ms")
        tags = value.get("tags") or []
        metadata = value.get("metadata") or {}
        if not isinstance(tags, list):
            raise RecordFormatError("tags must be a list")
        if not isinstance(metadata, dict):
            raise RecordFormatError("metadata must be an object")
        websocket = value.get("websocket")
        if websocket is not None and not isinstance(websocket, list):
            raise RecordFormatError("websocket must be a list of messages or null")
        source = value.get("source") or "proxy"
        return cls(
            id=str(value.get("id") or new_id()),
            session_id=str(value.get("session_id") or ""),
            started_at=started_at,
            duration_ms=None if duration is None else float(duration),
            source=source if source in SOURCES else "proxy",
            request=Request.from_json(value["request"]),
            response=Response.from_json(value.get("response")),
            timings=Timings.from_json(value.get("timings")),
            error=None if value.get("error") is None else str(value["error"]),
            tags=[str(tag) for tag in tags],
            metadata=metadata,
            client=value.get("client"),
            server=value.get("server"),
            websocket=None
            if websocket is None
            else [WebSocketMessage.from_json(m) for m in websocket],
        )


@dataclass(slots=True)
class Session:
    id: str
    name: str
    description: str = ""
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    flow_count: int = 0
    total_size: int = 0
    active: bool = False
    # When its oldest and newest flows started (None while it has none): what a list shows.
    first_flow_at: datetime | None = None
    last_flow_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "flow_count": self.flow_count,
            "total_size": self.total_size,
            "active": self.active,
            "first_flow_at": None
            if self.first_flow_at is None
            else format_time(self.first_flow_at),
            "last_flow_at": None if self.last_flow_at is None else format_time(self.last_flow_at),
        }
