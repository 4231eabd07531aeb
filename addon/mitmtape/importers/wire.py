"""Turning a HAR's decoded response body back into the bytes that crossed the wire.

HAR keeps bodies after content decoding but keeps the `Content-Encoding` header; a record keeps
the wire bytes beside that header (spec section 1). Re-encoding makes the two agree again, so
exporters, code generators and a replay in mitmproxy see a consistent response.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

from mitmtape.model import Headers

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Some writers put the still-encoded body in the HAR; bytes already in the format are kept.
ALREADY_ENCODED = {"gzip": GZIP_MAGIC, "x-gzip": GZIP_MAGIC, "zstd": ZSTD_MAGIC}


def _brotli(data: bytes) -> bytes:
    import brotli  # a dependency of mitmproxy; imported here so plain gzip imports skip it

    return brotli.compress(data, quality=5)


def _zstd(data: bytes) -> bytes:
    """zstd through whichever module mitmproxy brought: `zstandard` (11), `backports.zstd` (12)."""
    try:
        import zstandard
    except ImportError:
        try:
            from backports import zstd
        except ImportError:
            raise LookupError("no zstd compressor installed") from None
        return zstd.compress(data)
    return zstandard.ZstdCompressor().compress(data)


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda data: data,
    "gzip": lambda data: gzip.compress(data, compresslevel=6, mtime=0),
    "x-gzip": lambda data: gzip.compress(data, compresslevel=6, mtime=0),
    "deflate": lambda data: zlib.compress(data, 6),
    "br": _brotli,
    "zstd": _zstd,
}
CONTENT_ENCODING = "content-encoding"


def encode_for_wire(data: bytes, headers: Headers) -> tuple[bytes, Headers]:
    """The body encoded as `Content-Encoding` says, and the headers that describe it.

    An encoding nobody can produce here (or a chain holding one) leaves the body decoded and
    drops the header, so the record never claims an encoding its bytes do not have.
    """
    names = [
        name.strip().lower()
        for key, value in headers
        if key.lower() == CONTENT_ENCODING
        for name in value.split(",")
        if name.strip()
    ]
    if not names or not data:
        return data, headers
    if len(names) == 1 and data.startswith(ALREADY_ENCODED.get(names[0], b"\0\0\0\0\0")):
        return data, headers
    original = data
    try:
        for name in names:
            data = _encoder(name)(data)
    except LookupError:
        return original, [(key, value) for key, value in headers if key.lower() != CONTENT_ENCODING]
    return data, headers


def _encoder(name: str) -> Callable[[bytes], bytes]:
    try:
        return ENCODERS[name]
    except KeyError:
        raise LookupError(f"no encoder for {name!r}") from None
