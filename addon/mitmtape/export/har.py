"""HAR 1.2 export, written entry by entry, for browsers, HAR viewers and replay tools.

Field by field as formats.md says. Where mitmtape's data and HAR 1.2 disagree, HAR wins, because
strict readers reject what does not fit: `send`, `wait` and `receive` must be non-negative, so an
unknown value there becomes 0 (the other phases keep -1, "not known"), and every array is present
even when empty. Whatever HAR has no field for goes into `_`-prefixed extensions, as Chrome does.
"""

from __future__ import annotations

import email.utils
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlsplit

from mitmproxy.net.http import cookies

import mitmtape
from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.decode import decode_body
from mitmtape.export.jsonstream import dump, write_json_array
from mitmtape.model import (
    OMISSIONS,
    UNKNOWN_TIME,
    Body,
    FlowRecord,
    Headers,
    Request,
    Response,
    Timings,
    WebSocketMessage,
    header_value,
    media_type,
)

HAR_VERSION = "1.2"
CREATOR = "mitmtape"
NO_RESPONSE = "No Response"
UNKNOWN_SIZE = -1
FORM_TYPE = "application/x-www-form-urlencoded"
WEBSOCKET_OPCODES = {"text": 1, "binary": 2}

Json = dict[str, Any]


def iso_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a zone, as HAR readers expect."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # `isoformat()` without a `timespec` is the fastest form; it leaves out a zero fraction.
    # Milliseconds are cut, not rounded, as `timespec="milliseconds"` cuts them.
    text = moment.isoformat()
    return f"{text[:23]}Z" if moment.microsecond else f"{text[:19]}.000Z"


def har_url(url: str) -> str:
    """The URL as a browser sends it: non-ASCII characters (and spaces) percent-encoded.

    HAR wants a URL, and readers such as mitmproxy's refuse an IRI; ASCII is left as recorded.
    """
    if url.isascii() and url.isprintable() and " " not in url:
        return url  # nothing `quote` would change: every other ASCII byte is punctuation or safe
    return quote(url, safe=string.punctuation, errors="surrogateescape")


def name_values(pairs: Headers) -> list[Json]:
    return [{"name": name, "value": value} for name, value in pairs]


def query_string(url: str) -> list[Json]:
    """The URL's parameters, decoded, in order, repeats kept."""
    if "\t" in url or "\r" in url or "\n" in url:  # urlsplit removes them
        query = urlsplit(url).query
    else:
        query = url.partition("#")[0].partition("?")[2]  # where urlsplit finds it
    if "%" in query or "+" in query:
        return name_values(parse_qsl(query, keep_blank_values=True))
    # Nothing to decode: parse_qsl's pairs, without its unquoting of every name and value.
    return [
        {"name": name, "value": value}
        for name, _, value in (pair.partition("=") for pair in query.split("&") if pair)
    ]


def header_values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def cookie_pairs(line: str) -> list[tuple[str, str]]:
    """A Cookie header's `name=value` pairs, as mitmproxy's parser reads them.

    A line without a quote is split here, the way that parser splits it (names left-stripped,
    values as written); a quoted value is left to the parser.
    """
    if '"' in line:
        return [(name, value or "") for name, value in cookies.parse_cookie_header(line)]
    found = []
    for piece in line.split(";"):
        name, _, value = piece.partition("=")
        name = name.lstrip()
        if name or value:
            found.append((name, value))
    return found


def request_cookies(headers: Headers) -> list[Json]:
    return [
        {"name": name, "value": value}
        for line in header_values(headers, "cookie")
        for name, value in cookie_pairs(line)
    ]


def cookie_expiry(attrs: dict[str, str | None], received: datetime) -> str | None:
    """When a Set-Cookie cookie expires: `Max-Age` wins over `Expires` (RFC 6265, 5.3)."""
    try:
        return iso_time(received + timedelta(seconds=int(attrs["max-age"])))
    except (KeyError, ValueError, OverflowError):
        pass
    try:
        expires = email.utils.parsedate_to_datetime(attrs["expires"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return iso_time(expires if expires.tzinfo else expires.replace(tzinfo=UTC))


SetCookie = tuple[str, str | None, dict[str, str | None]]


def set_cookies(line: str) -> list[SetCookie]:
    """A Set-Cookie header's cookies, each with its attributes (lower-case names, the last of
    a repeated one), as mitmproxy's parser reads them.

    A line without a quote, a comma or an `expires` is one cookie split on `;` here, the way
    that parser splits it; any other line is left to the parser, which knows the quoting, the
    comma-separated cookies and the commas inside a date.
    """
    if '"' in line or "," in line or "expires" in line.lower():
        return [
            # A plain dict: mitmproxy's case-insensitive MultiDict is slow to ask many times.
            (name, value, {key.lower(): text for key, text in multidict.items(multi=True)})
            for name, value, multidict in cookies.parse_set_cookie_header(line)
        ]
    pairs: list[tuple[str, str | None]] = []
    for piece in line.split(";"):
        name, equals, value = piece.partition("=")
        name = name.lstrip()
        if equals:
            pairs.append((name, value))
        elif name:
            pairs.append((name, None))
    if not pairs:
        return []
    (name, value), attributes = pairs[0], pairs[1:]
    return [(name, value, {key.lower(): text for key, text in attributes})]


def response_cookies(headers: Headers, received: datetime) -> list[Json]:
    found = []
    for line in header_values(headers, "set-cookie"):
        for name, value, attrs in set_cookies(line):
            cookie: Json = {"name": name, "value": value or ""}
            for key in ("path", "domain"):
                if key in attrs:
                    cookie[key] = attrs[key]
            expires = cookie_expiry(attrs, received)
            if expires is not None:
                cookie["expires"] = expires
            cookie["httpOnly"] = "httponly" in attrs
            cookie["secure"] = "secure" in attrs
            found.append(cookie)
    return found


def omitted_comment(reason: str, body: Body) -> str:
    """What a HAR reader is told of a body that was not recorded, and why."""
    return f"body {OMISSIONS[reason]}; {body.size} bytes crossed the wire"


def post_data(request: Request) -> Json:
    """The request body; a binary one as base64, flagged so an importer can reverse it."""
    content_type = request.content_type or ""
    if (omitted := request.body.omitted) is not None:
        return {
            "mimeType": content_type,
            "text": "",
            "params": [],
            "comment": omitted_comment(omitted, request.body),
        }
    body = decode_body(request.body, request.headers)
    params = []
    if media_type(content_type) == FORM_TYPE and not body.is_base64:
        params = name_values(parse_qsl(body.text, keep_blank_values=True))
    data: Json = {"mimeType": content_type, "text": body.text, "params": params}
    if body.is_base64:
        data["_encoding"] = "base64"
    return data


def har_request(request: Request) -> Json:
    headers = request.headers
    entry: Json = {
        "method": request.method,
        "url": har_url(request.url),
        "httpVersion": request.http_version,
        "cookies": request_cookies(headers),
        "headers": name_values(headers),
        "queryString": query_string(request.url),
        "headersSize": UNKNOWN_SIZE,
        "bodySize": request.body.size,
    }
    if request.body.size or request.body.omitted is not None:
        entry["postData"] = post_data(request)
    return entry


def content(response: Response) -> Json:
    """The decoded body; `compression` counts the bytes the wire encoding saved.

    A body that was not recorded cannot be decoded: its size is the wire's, and its comment
    says why there is no text.
    """
    if (omitted := response.body.omitted) is not None:
        return {
            "size": response.body.size,
            "mimeType": response.content_type or "",
            "comment": omitted_comment(omitted, response.body),
        }
    body = decode_body(response.body, response.headers)
    data: Json = {"size": len(body.data)}
    saved = len(body.data) - response.body.size
    if saved > 0:
        data["compression"] = saved
    data["mimeType"] = response.content_type or ""
    data["text"] = body.text
    if body.is_base64:
        data["encoding"] = "base64"
    return data


def har_response(record: FlowRecord, response: Response) -> Json:
    headers = response.headers
    entry: Json = {
        "status": response.status,
        "statusText": response.reason,
        "httpVersion": response.http_version,
        "cookies": response_cookies(headers, record.started_at),
        "headers": name_values(headers),
        "content": content(response),
        "redirectURL": header_value(response.headers, "location") or "",
        "headersSize": UNKNOWN_SIZE,
        "bodySize": response.body.size,
    }
    if record.error:
        entry["_error"] = record.error
    return entry


def missing_response(error: str | None) -> Json:
    """What HAR readers expect for a flow that got no response: status 0, empty everything."""
    entry: Json = {
        "status": 0,
        "statusText": error or NO_RESPONSE,
        "httpVersion": "",
        "cookies": [],
        "headers": [],
        "content": {"size": 0, "mimeType": ""},
        "redirectURL": "",
        "headersSize": UNKNOWN_SIZE,
        "bodySize": UNKNOWN_SIZE,
    }
    if error:
        entry["_error"] = error
    return entry


# Below this many microseconds (31 years), `us / 1000` is already the double nearest to the
# three-decimal value, so rounding it (slow: it goes through decimal digits) changes nothing.
EXACT_MICROSECONDS = 10**15


def phase_ms(microseconds: int, unknown: float) -> float:
    """A phase in milliseconds, to the microsecond; `unknown` where it was not measured."""
    if microseconds < 0:
        return unknown
    if microseconds < EXACT_MICROSECONDS:
        return microseconds / 1000
    return round(microseconds / 1000, 3)


def har_timings(timings: Timings | None, duration_ms: float | None) -> Json:
    """All phases in ms; without timing data the whole duration counts as `wait`."""
    if timings is None:
        return {
            "blocked": UNKNOWN_TIME,
            "dns": UNKNOWN_TIME,
            "connect": UNKNOWN_TIME,
            "ssl": UNKNOWN_TIME,
            "send": 0,
            "wait": duration_ms or 0,
            "receive": 0,
        }
    # HAR 1.2 allows -1 ("not known") only for dns, connect and ssl; the others must be >= 0.
    return {
        "blocked": UNKNOWN_TIME,
        "dns": phase_ms(timings.dns, UNKNOWN_TIME),
        "connect": phase_ms(timings.connect, UNKNOWN_TIME),
        "ssl": phase_ms(timings.ssl, UNKNOWN_TIME),
        "send": phase_ms(timings.send, 0),
        "wait": phase_ms(timings.wait, 0),
        "receive": phase_ms(timings.receive, 0),
    }


def total_time(record: FlowRecord, timings: Json) -> float:
    """The recorded duration, else the sum of the known phases (HAR's own definition)."""
    if record.duration_ms is not None:
        return record.duration_ms
    return sum(value for value in timings.values() if value > 0)


def websocket_message(message: WebSocketMessage) -> Json:
    """One message the way Chrome writes `_webSocketMessages`."""
    return {
        "type": "send" if message.from_client else "receive",
        "time": message.timestamp,
        "opcode": WEBSOCKET_OPCODES[message.type],
        "data": message.to_json()["content"],
    }


def entry_of(record: FlowRecord) -> Json:
    timings = har_timings(record.timings, record.duration_ms)
    entry: Json = {
        "startedDateTime": iso_time(record.started_at),
        "time": total_time(record, timings),
        "request": har_request(record.request),
        "response": missing_response(record.error)
        if record.response is None
        else har_response(record, record.response),
        "cache": {},
        "timings": timings,
    }
    if record.server and record.server.get("ip"):
        entry["serverIPAddress"] = str(record.server["ip"])
    if record.client and record.client.get("port"):
        # HAR wants an id of the TCP connection; the client's port names it while it is open.
        entry["connection"] = str(record.client["port"])
    comment = record.metadata.get("comment")
    if isinstance(comment, str) and comment:
        entry["comment"] = comment
    if record.tags:
        entry["_tags"] = list(record.tags)
    if record.websocket is not None:
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = [websocket_message(m) for m in record.websocket]
    return entry


def write(out: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    header = {
        "version": HAR_VERSION,
        "creator": {"name": CREATOR, "version": mitmtape.__version__},
        "pages": [],
    }
    out.write('{\n  "log": {\n')
    for key, value in header.items():
        out.write(f'    "{key}": {dump(value, 2)},\n')
    out.write('    "entries": ')
    entries = (entry_of(record) for record in records)
    write_json_array(out, entries, depth=2, compact=True)
    if context.redaction is not None:
        # Written after the entries: the counts are complete only once they have streamed.
        comment = f"redacted by mitmtape: {context.redaction.text()}"
        out.write(f',\n    "comment": {dump(comment, 2)}')
    out.write("\n  }\n}\n")


FORMAT = ExportFormat(
    name="har",
    suffix=".har",
    media_type="application/json",
    needs_bodies=True,
    write=write,
    shared=True,
)
