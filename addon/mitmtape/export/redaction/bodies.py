"""Secrets inside bodies: JSON at any depth, form and multipart fields, base64 text, JWTs.

A body is searched whatever its content type says (a JSON body sent as `text/plain` or
`application/octet-stream` still leaks), after its `Content-Encoding` is undone as each reader
of the export would undo it (`read_as_readers_do`); a masked body is encoded again the same way,
so the record stays what its headers say it is. A masked body stays valid JSON or form data.
Bytes that are not UTF-8 are carried through untouched (`surrogateescape`), so a multipart body
with a binary file part keeps its file.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from mitmproxy.net import encoding

from mitmtape.export.decode import CONTENT_CODINGS, NO_CODING
from mitmtape.export.redaction.names import SecretNames
from mitmtape.export.redaction.tally import Tally
from mitmtape.export.redaction.values import MASK, mask_jwts, mask_pairs, mask_url
from mitmtape.model import media_type

FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# A whole body that is base64 of text is decoded and searched; shorter strings are words.
BASE64_MIN_LENGTH = 16
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PART_NAME = re.compile(r'\bname="([^"]*)"', re.IGNORECASE)
_URL_PREFIXES = ("http://", "https://", "/")
# RFC 9110, 8.4.1: a recipient should take `x-gzip` as `gzip`; neither mitmproxy nor the formats
# decode it, but a person (or a browser) reading the body would.
CODING_ALIASES = {"x-gzip": "gzip"}
Encoder = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class TextRules:
    """What a body search needs: the secret names, the JWT mode, and where to count."""

    names: SecretNames
    strict: bool
    tally: Tally

    def jwts(self, text: str) -> str:
        return mask_jwts(text, self.strict, self.tally)


def redact_json_value(value: Any, rules: TextRules) -> Any:
    """A secret key's value becomes `***` (whatever it held); strings elsewhere are searched
    for JWTs, query parameters of URLs, and JSON nested as text."""
    if isinstance(value, dict):
        redacted = {}
        for key, item in value.items():
            if key in rules.names and item not in (None, "", [], {}):
                rules.tally.add("body_fields")
                redacted[key] = MASK
            else:
                redacted[key] = redact_json_value(item, rules)
        return redacted
    if isinstance(value, list):
        return [redact_json_value(item, rules) for item in value]
    if isinstance(value, str):
        return redact_string(value, rules)
    return value


def redact_string(text: str, rules: TextRules) -> str:
    if text.startswith(("{", "[")):
        nested = redact_json_text(text, rules)
        if nested is not None:
            return nested
    if text.startswith(_URL_PREFIXES):
        return mask_url(text, rules.names, rules.strict, rules.tally)
    return rules.jwts(text)


def redact_json_text(text: str, rules: TextRules) -> str | None:
    """The JSON text with secrets masked (as it was when nothing was), or None if not JSON."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    before = sum(rules.tally.counts.values())
    masked = redact_json_value(parsed, rules)
    if sum(rules.tally.counts.values()) == before:
        return text
    return json.dumps(masked, ensure_ascii=False)


def redact_multipart(text: str, boundary: str, rules: TextRules) -> str:
    """Each part whose field name is secret loses its value; other parts are searched."""
    delimiter = f"--{boundary}"
    parts = text.split(delimiter)
    for index, part in enumerate(parts):
        head, blank, value = part.partition("\r\n\r\n")
        if not blank:
            continue
        name = _PART_NAME.search(head)
        ending = "\r\n" if value.endswith("\r\n") else ""
        if name and "filename=" not in head.lower() and name[1] in rules.names:
            rules.tally.add("body_fields")
            parts[index] = f"{head}{blank}{MASK}{ending}"
        else:
            parts[index] = f"{head}{blank}{redact_text(value, '', rules)}"
    return delimiter.join(parts)


def redact_base64(text: str, rules: TextRules) -> str | None:
    """A body that is base64 of UTF-8 text, searched as that text and encoded again."""
    stripped = text.strip()
    if len(stripped) < BASE64_MIN_LENGTH or not _BASE64.fullmatch(stripped):
        return None
    try:
        decoded = base64.b64decode(stripped, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not all(character.isprintable() or character.isspace() for character in decoded):
        return None
    masked = redact_text(decoded, "", rules)
    return text if masked == decoded else base64.b64encode(masked.encode()).decode("ascii")


def redact_text(text: str, content_type: str, rules: TextRules) -> str:
    """A body's text with every secret masked, by what the text is."""
    kind = media_type(content_type)
    if kind == FORM_TYPE:
        return mask_pairs(text, rules.names, rules.strict, rules.tally, "body_fields")
    if kind == MULTIPART_TYPE and (boundary := _BOUNDARY.search(content_type)):
        return redact_multipart(text, boundary[1], rules)
    if text.lstrip().startswith(("{", "[")):
        masked = redact_json_text(text, rules)
        if masked is not None:
            return masked
    masked = redact_base64(text, rules)
    return rules.jwts(text) if masked is None else masked


def redact_bytes(data: bytes, content_type: str, rules: TextRules) -> bytes:
    """Bytes in, bytes out; what is not UTF-8 passes through as it was."""
    text = data.decode("utf-8", "surrogateescape")
    masked = redact_text(text, content_type, rules)
    return data if masked == text else masked.encode("utf-8", "surrogateescape")


def redact_wire(data: bytes, content_type: str, content_encoding: str, rules: TextRules) -> bytes:
    """A body as it crossed the wire: read as its readers read it, searched, and encoded again
    the same way when changed."""
    decoded, encode = read_as_readers_do(data, content_encoding)
    masked = redact_bytes(decoded, content_type, rules)
    return data if masked is decoded else encode(masked)


def read_as_readers_do(data: bytes, content_encoding: str) -> tuple[bytes, Encoder]:
    """The body as whoever opens the export sees it, and how to put a masked copy back.

    mitmtape's formats undo each coding of a list (`gzip, br`); mitmproxy reading a `.mitm` file
    undoes the header as one name, which covers a few more (`none`, `deflateraw`, Python codecs
    such as `bz2`). Bytes no coding undoes are read as they are: a body labelled `gzip` that is
    plain text, or `Content-Encoding: compress`, is still searched, since a person reads it so.
    """
    codings = [CODING_ALIASES.get(c, c) for c in _codings(content_encoding)]
    if not codings:
        return data, _as_is
    if CONTENT_CODINGS.issuperset(codings):
        with suppress(ValueError):
            return _undo(data, codings), partial(_redo, codings=codings)
    with suppress(ValueError, TypeError):  # TypeError: a codec for text, not bytes (`rot13`)
        decoded = encoding.decode(data, content_encoding)
        if isinstance(decoded, bytes):
            return decoded, partial(encoding.encode, encoding=content_encoding)
    return data, _as_is


def _codings(content_encoding: str) -> list[str]:
    listed = (coding.strip().lower() for coding in content_encoding.split(","))
    return [coding for coding in listed if coding not in NO_CODING]


def _undo(data: bytes, codings: list[str]) -> bytes:
    """Codings were applied left to right, so they come off right to left."""
    for coding in reversed(codings):
        data = encoding.decode(data, coding)
    return data


def _redo(data: bytes, codings: list[str]) -> bytes:
    for coding in codings:
        data = encoding.encode(data, coding)
    return data


def _as_is(data: bytes) -> bytes:
    return data
