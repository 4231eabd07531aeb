"""Redaction of one flow record: every place item 1 of issue 17 lists, in one pass.

Headers, cookies, the URL (and the `path` shown beside it), URL-valued headers, bodies and
WebSocket messages (emptied, as bodies are, for a URL `--redact-bodies` names). The record
handed in is left alone, a copy comes back: the pipeline may still need the original, and the
database is never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from mitmtape.export.redaction.bodies import TextRules, redact_bytes, redact_wire
from mitmtape.export.redaction.names import CREDENTIAL_HEADERS, SecretNames
from mitmtape.export.redaction.tally import Tally
from mitmtape.export.redaction.values import (
    mask_cookie_header,
    mask_credential,
    mask_set_cookie,
    mask_url,
)
from mitmtape.model import Body, FlowRecord, Headers, Request, Response, WebSocketMessage

URL_HEADERS = frozenset({"location", "referer", "content-location"})
COOKIE_MASKS = {"cookie": mask_cookie_header, "set-cookie": mask_set_cookie}


def body_pattern(pattern: str) -> re.Pattern[str]:
    """A `*` glob matches the whole URL; a pattern without `*` is a substring."""
    if "*" not in pattern:
        return re.compile(re.escape(pattern))
    return re.compile("^" + ".*".join(map(re.escape, pattern.split("*"))) + "$")


@dataclass(frozen=True, slots=True)
class Redaction:
    """What a person asked to hide: the mode, names beyond the defaults, bodies by URL."""

    strict: bool = False
    names: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    _secret_names: SecretNames = field(init=False, repr=False, compare=False)
    _body_patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_secret_names", SecretNames(self.names))
        patterns = tuple(body_pattern(pattern) for pattern in self.bodies if pattern)
        object.__setattr__(self, "_body_patterns", patterns)

    def rules(self, tally: Tally) -> TextRules:
        return TextRules(self._secret_names, self.strict, tally)

    def omits_bodies_of(self, url: str) -> bool:
        return any(pattern.search(url) for pattern in self._body_patterns)


def redact_header(name: str, value: str, rules: TextRules) -> str:
    lowered = name.strip().lower()
    if lowered in COOKIE_MASKS:
        return COOKIE_MASKS[lowered](value, rules.tally)
    if lowered in CREDENTIAL_HEADERS or name in rules.names:
        rules.tally.add("headers")
        return mask_credential(value)
    if lowered in URL_HEADERS:
        return mask_url(value, rules.names, rules.strict, rules.tally)
    return rules.jwts(value)


def redact_headers(headers: Headers, rules: TextRules) -> Headers:
    """The same header lines in the same order, secrets masked."""
    return [(name, redact_header(name, value, rules)) for name, value in headers]


def _optional_headers(headers: Headers | None, rules: TextRules) -> Headers | None:
    return None if headers is None else redact_headers(headers, rules)


def redact_body(body: Body, headers: Headers, rules: TextRules) -> tuple[Body, Headers]:
    """The body searched, and the headers with `Content-Length` following a changed body."""
    if body.omitted is not None or not body.data:
        return body, headers
    content_type = _header(headers, "content-type")
    # Header lines repeated are one list (as mitmproxy reads them): `gzip` then `br` is `gzip, br`.
    codings = ", ".join(value for name, value in headers if name.lower() == "content-encoding")
    data = redact_wire(body.data, content_type, codings, rules)
    if data is body.data:
        return body, headers
    resized = [
        (name, str(len(data)) if name.lower() == "content-length" else value)
        for name, value in headers
    ]
    return Body(data), resized


def _header(headers: Headers, name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


def omitted(body: Body, tally: Tally) -> Body:
    """A body left out on purpose (`--redact-bodies`): empty, its wire size still said."""
    if body.omitted is None and (body.data or body.wire_size):
        tally.add("bodies")
        return Body(b"", body.size, "redacted")
    return body


def redact_message(message: WebSocketMessage, rules: TextRules) -> WebSocketMessage:
    content = redact_bytes(message.content, "", rules)
    return message if content is message.content else replace(message, content=content)


def blanked(message: WebSocketMessage, tally: Tally) -> WebSocketMessage:
    """A WebSocket flow's messages are its body: `--redact-bodies` empties each one, keeping
    its direction, type and time (a message has no field to say why it is empty)."""
    if not message.content:
        return message
    tally.add("bodies")
    return replace(message, content=b"")


def _headers_and_body(
    message: Request | Response, rules: TextRules, omit: bool
) -> tuple[Headers, Body]:
    """A message's headers masked, and its body masked, or left out under `--redact-bodies`
    (a masked body may change its length headers)."""
    headers = redact_headers(message.headers, rules)
    if omit:
        return headers, omitted(message.body, rules.tally)
    body, headers = redact_body(message.body, headers, rules)
    return headers, body


def redact_request(request: Request, rules: TextRules, omit: bool) -> Request:
    headers, body = _headers_and_body(request, rules, omit)
    quiet = replace(rules, tally=Tally())  # the path repeats the URL: counted once
    return replace(
        request,
        url=mask_url(request.url, rules.names, rules.strict, rules.tally),
        path=mask_url(request.path, quiet.names, quiet.strict, quiet.tally),
        headers=headers,
        body=body,
        trailers=_optional_headers(request.trailers, rules),
    )


def redact_response(response: Response, rules: TextRules, omit: bool) -> Response:
    headers, body = _headers_and_body(response, rules, omit)
    return replace(
        response, headers=headers, body=body, trailers=_optional_headers(response.trailers, rules)
    )


def redact_record(record: FlowRecord, redaction: Redaction, tally: Tally) -> FlowRecord:
    """A copy of the record with every secret masked, and what was masked added to `tally`."""
    rules = redaction.rules(tally)
    omit = redaction.omits_bodies_of(record.request.url)
    response = record.response
    websocket = record.websocket
    if websocket is not None:
        websocket = [
            blanked(message, tally) if omit else redact_message(message, rules)
            for message in websocket
        ]
    return replace(
        record,
        request=redact_request(record.request, rules, omit),
        response=None if response is None else redact_response(response, rules, omit),
        websocket=websocket,
    )
