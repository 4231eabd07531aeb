"""HAR 1.2 import: one `log.entries` item at a time into a flow record.

Real HAR files differ (Chrome, Firefox, Safari, Playwright, Charles, Fiddler, Insomnia,
mitmproxy): optional fields go missing, timings go negative, extensions start with `_`. Every
field is therefore read defensively, and only a missing or unusable URL skips an entry.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import ijson

from mitmtape.importers.pipeline import Importer
from mitmtape.importers.sniff import AUTO_DETECT_HEAD, EntryError, ImportFailed, Source
from mitmtape.importers.wire import encode_for_wire
from mitmtape.model import (
    TIMING_PHASES,
    UNKNOWN_TIME,
    Body,
    FlowRecord,
    Headers,
    Request,
    Response,
    Timings,
    WebSocketMessage,
    header_value,
    is_text_type,
    media_type,
    parse_time,
    plain_url,
    utc_now,
)

ENTRIES_PREFIX = "log.entries.item"
URL_SCHEMES = ("http", "https", "ws", "wss")
# What mitmtape's HAR export writes as statusText when a flow has neither response nor error.
NO_RESPONSE_TEXT = "No Response"
HTTP_VERSIONS = {
    "http/2.0": "HTTP/2.0",
    "http/2": "HTTP/2.0",
    "h2": "HTTP/2.0",
    "http/3": "HTTP/3",
    "http/3.0": "HTTP/3",
    "h3": "HTTP/3",
    "http/1.0": "HTTP/1.0",
    "http/1.1": "HTTP/1.1",
}
# Entry extensions kept in the record's metadata, under these names.
METADATA_FIELDS = {
    "_resourceType": "resource_type",
    "comment": "comment",
    "pageref": "pageref",
    "connection": "connection",
    "_priority": "priority",
}
WEBSOCKET_OPCODES = {1: "text", 2: "binary"}
# Chrome and mitmproxy give a message's `time` in seconds, Playwright in milliseconds since the
# epoch; no time in seconds reaches this number before the year 5000.
MILLISECONDS_FROM = 1e11


def check(source: Source) -> None:
    first = source.first_byte()
    if not first:
        raise ImportFailed(f"{source.name}: the file is empty")
    if first != b"{":
        raise ImportFailed(
            f"{source.name}: not a HAR file (expected a JSON object with log.entries)"
        )


def entries(source: Source) -> Iterator[Any]:
    """The items of `log.entries`; a file without that array is an error, zero items is not."""
    found = False
    for entry in ijson.items(source, ENTRIES_PREFIX, use_float=True):
        found = True
        yield entry
    if not found and not _has_entries_array(source.copy()):
        raise ImportFailed(f"{source.name}: not a HAR file (no log.entries array)")


def _has_entries_array(data: bytes | None) -> bool:
    """Whether a (small) file holds a `log.entries` array; a large one without entries has not."""
    if data is None:
        return False
    return any(
        prefix == "log.entries" and event == "start_array" for prefix, event, _ in ijson.parse(data)
    )


def entry_to_record(entry: Any) -> FlowRecord:
    if not isinstance(entry, dict):
        raise EntryError(f"an entry must be an object, got {type(entry).__name__}")
    request = _request(_object(entry.get("request"), "request"))
    status = _status(entry.get("response"))
    response_json = entry.get("response") if status > 0 else None
    return FlowRecord(
        request=request,
        id="",  # the pipeline stamps every imported flow with a fresh id; no need for two
        started_at=_started(entry.get("startedDateTime")),
        duration_ms=_non_negative(entry.get("time")),
        response=None if response_json is None else _response(response_json, status),
        timings=_timings(entry.get("timings")),
        error=_error(entry.get("response"), has_response=response_json is not None),
        tags=_tags(entry.get("_tags")),
        metadata=_metadata(entry),
        server=_server(entry, request),
        websocket=_websocket(entry.get("_webSocketMessages")),
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EntryError(f"{where} is missing or not an object")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _started(value: Any) -> datetime:
    """RFC 3339 with or without fractions, `Z` or an offset; unreadable or missing: now."""
    try:
        return parse_time(str(value))
    except (TypeError, ValueError):
        return utc_now()


def _non_negative(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value >= 0 else None


def _http_version(value: Any) -> str:
    text = _text(value).strip()
    return HTTP_VERSIONS.get(text.lower(), text if text.upper().startswith("HTTP/") else "HTTP/1.1")


def _headers(value: Any) -> Headers:
    """`{name, value}` items in order; HTTP/2 pseudo-headers (`:method`...) repeat the request
    line, and mitmproxy's own records never hold them, so they are left out."""
    if not isinstance(value, list):
        return []
    pairs: Headers = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        if name:
            name = name if type(name) is str else str(name)
            if name[0] != ":":
                text = item.get("value")
                pairs.append((name, text if type(text) is str else _text(text)))
    return pairs


def _request(value: dict[str, Any]) -> Request:
    url = _text(value.get("url")).strip()
    scheme, host, port, path = plain_url(url) or _split_url(url)
    if scheme not in URL_SCHEMES or not host:
        raise EntryError(f"invalid URL {url!r}" if url else "request has no URL")
    headers = _headers(value.get("headers"))
    return Request(
        method=_text(value.get("method")).strip() or "GET",
        url=url,
        # What Request would derive from the URL again; parsed once here, for speed.
        host=host,
        port=port or (443 if scheme in ("https", "wss") else 80),
        path=path or "/",
        http_version=_http_version(value.get("httpVersion")),
        headers=headers,
        body=Body(_post_data(value.get("postData"), headers)),
    )


def _split_url(url: str) -> tuple[str, str, int | None, str]:
    """What `plain_url` gives, for any other URL: urlsplit's answer."""
    parts = urlsplit(url)
    try:
        port = parts.port  # raises on a port out of range (0-65535) or not a number
    except ValueError:
        raise EntryError(f"invalid URL {url!r}") from None
    return parts.scheme.lower(), parts.hostname or "", port, parts.path


def _post_data(value: Any, headers: Headers) -> bytes:
    """The request body: `text` (base64 first for a non-text MIME), else rebuilt `params`."""
    if not isinstance(value, dict):
        return b""
    mime = _text(value.get("mimeType")) or _text(header_value(headers, "content-type"))
    text = value.get("text")
    if isinstance(text, str) and text:
        marked = _text(value.get("_encoding") or value.get("encoding")).lower() == "base64"
        if marked or (mime and not is_text_type(mime)):
            return _base64_or_text(text)
        return text.encode("utf-8")
    params = value.get("params")
    if isinstance(params, list) and params:
        return _form_body(params, mime)
    return b""


def _base64_or_text(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")


def _form_body(params: list[Any], mime: str) -> bytes:
    """A form body from HAR `params`: multipart when the MIME names a boundary, else urlencoded."""
    pairs = [
        (_text(p.get("name")), _text(p.get("value")), p.get("fileName"))
        for p in params
        if isinstance(p, dict)
    ]
    boundary = _boundary(mime)
    if media_type(mime) != "multipart/form-data" or not boundary:
        return urlencode([(name, value) for name, value, _ in pairs]).encode("utf-8")
    parts = []
    for name, value, file_name in pairs:
        disposition = f'form-data; name="{name}"'
        if file_name:
            disposition += f'; filename="{file_name}"'
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n")
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")


def _boundary(mime: str) -> str:
    for parameter in mime.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"')
    return ""


def _status(value: Any) -> int:
    if not isinstance(value, dict):
        return 0
    try:
        return int(value.get("status") or 0)
    except (TypeError, ValueError):
        raise EntryError(f"response status is not a number: {value.get('status')!r}") from None


def _response(value: dict[str, Any], status: int) -> Response:
    headers = _headers(value.get("headers"))
    content = value.get("content")
    data = _content(content) if isinstance(content, dict) else b""
    data, headers = encode_for_wire(data, headers)
    return Response(
        status=status,
        reason=_text(value.get("statusText")),
        http_version=_http_version(value.get("httpVersion")),
        headers=headers,
        body=Body(data),
    )


def _content(content: dict[str, Any]) -> bytes:
    """`content.text`, base64-decoded when `encoding` says base64 (any case) and it decodes."""
    text = content.get("text")
    if not isinstance(text, str):
        return b""
    if _text(content.get("encoding")).strip().lower() == "base64":
        return _base64_or_text(text)
    return text.encode("utf-8", errors="surrogatepass")


def _error(value: Any, has_response: bool) -> str | None:
    """Chrome's, mitmproxy's and mitmtape's `_error`; without a response, a telling statusText.

    A flow can fail after its response began (a body cut short), so `_error` counts either way.
    """
    if not isinstance(value, dict):
        return None
    error = value.get("_error")
    if error:
        return str(error)
    if has_response:
        return None
    text = _text(value.get("statusText")).strip()
    return text if text and text != NO_RESPONSE_TEXT else None


def _tags(value: Any) -> list[str]:
    """mitmtape's own `_tags` extension; anything but a list of strings is ignored."""
    if not isinstance(value, list):
        return []
    return [str(tag) for tag in value if isinstance(tag, (str, int, float))]


def _timings(value: Any) -> Timings | None:
    """HAR milliseconds as microseconds; unknown phases -1; null when no phase is positive."""
    if not isinstance(value, dict):
        return None
    get = value.get
    phases = [_microseconds(get(phase)) for phase in TIMING_PHASES]
    if max(phases) <= 0:
        return None
    return Timings(*phases)  # TIMING_PHASES is the field order


def _microseconds(ms: Any) -> int:
    """HAR milliseconds as whole microseconds; an absurd value stays absurd (the range check
    drops it, saying so) rather than overflowing to infinity here."""
    kind = type(ms)  # JSON numbers are exactly int or float; True is not a number here
    if (kind is float or kind is int) and ms >= 0:
        us = ms * 1000
        return round(us) if us != math.inf else int(ms) * 1000
    return UNKNOWN_TIME


def _metadata(entry: dict[str, Any]) -> dict[str, Any]:
    metadata = {
        name: entry[key] for key, name in METADATA_FIELDS.items() if entry.get(key) is not None
    }
    initiator = entry.get("_initiator")
    # Chrome's initiator may carry whole stack traces; its kind and URL are what people read.
    if isinstance(initiator, dict) and initiator.get("type"):
        metadata["initiator"] = {
            key: initiator[key] for key in ("type", "url", "lineNumber") if key in initiator
        }
    return metadata


def _server(entry: dict[str, Any], request: Request) -> dict[str, Any] | None:
    address = entry.get("serverIPAddress")
    if not address:
        return None
    return {"host": request.host, "port": request.port, "ip": str(address).strip("[]")}


def _seconds(value: Any) -> float:
    moment = float(value) if isinstance(value, (int, float)) else 0.0
    return moment / 1000 if moment > MILLISECONDS_FROM else moment


def _websocket(value: Any) -> list[WebSocketMessage] | None:
    """Chrome's `_webSocketMessages` (also written by mitmproxy and mitmtape) as messages."""
    if not isinstance(value, list):
        return None
    messages = []
    for item in value:
        if not isinstance(item, dict):
            continue
        kind = WEBSOCKET_OPCODES.get(item.get("opcode", 1))
        if kind is None:
            continue
        data = _text(item.get("data"))
        messages.append(
            WebSocketMessage(
                from_client=item.get("type") == "send",
                type=kind,
                timestamp=_seconds(item.get("time")),
                content=_base64_or_text(data) if kind == "binary" else data.encode("utf-8"),
            )
        )
    return messages


_HAR_LOG = re.compile(rb'"log"\s*:')
_HAR_ENTRIES = re.compile(rb'"entries"\s*:')


def sniff(head: bytes) -> bool:
    """Auto-detect's test (spec): a `{` whose first 1 KB has `"log":`, with `"entries":`."""
    return head[:1] == b"{" and bool(
        _HAR_LOG.search(head[:AUTO_DETECT_HEAD]) and _HAR_ENTRIES.search(head)
    )


HAR = Importer(
    name="har",
    sniff=sniff,
    described="HAR object",
    suffixes=(".har",),
    check=check,
    entries=entries,
    convert=entry_to_record,
)
