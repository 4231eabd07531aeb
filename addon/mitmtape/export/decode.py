"""Bodies as a format wants them: content-decoded, then text or base64.

Records keep bodies as they crossed the wire, so a gzip response is still gzip. HAR and the other
readable formats want what the server meant: the `Content-Encoding` undone (by mitmproxy's own
decoders), then UTF-8 text when the spec's text detection says so, base64 otherwise. A body whose
decoding fails is shown as its wire bytes rather than dropped.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from mitmproxy.net import encoding

from mitmtape.model import Body, Headers, header_value, is_text

# Codings mitmproxy decodes; anything else (`compress`, typos) leaves the wire bytes as they are.
CONTENT_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
NO_CODING = frozenset({"", "identity"})


@dataclass(frozen=True, slots=True)
class DecodedBody:
    data: bytes
    # UTF-8 text when `is_base64` is false, else the base64 of `data`.
    text: str
    is_base64: bool


def content_decode(data: bytes, content_encoding: str | None) -> bytes:
    """Undo `Content-Encoding`; a list such as `gzip, br` was applied left to right."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c not in NO_CODING]
    if not data or not codings or not CONTENT_CODINGS.issuperset(codings):
        return data
    decoded = data
    try:
        for coding in reversed(codings):
            decoded = encoding.decode(decoded, coding)
    except ValueError:
        return data
    return decoded


def decode_body(body: Body, headers: Headers) -> DecodedBody:
    """The body's content, as text if it is text by the spec's rule, else as base64."""
    data = content_decode(body.data, header_value(headers, "content-encoding"))
    if is_text(header_value(headers, "content-type"), data):
        return DecodedBody(data, data.decode("utf-8"), is_base64=False)
    return DecodedBody(data, base64.b64encode(data).decode("ascii"), is_base64=True)
