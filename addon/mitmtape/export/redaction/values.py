"""Masks for one value: credentials, cookies, JWTs and the query parameters of a URL.

Every function returns the masked text and adds what it masked to a `Tally`, so an export can
say what it did. A value that holds nothing secret comes back unchanged, byte for byte.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from mitmtape.export.redaction.names import SecretNames
from mitmtape.export.redaction.tally import Tally

MASK = "***"
# Authorization schemes kept in front of the mask (`Bearer ***`), as people write them.
SCHEMES = {
    name.lower(): name
    for name in ("Bearer", "Basic", "Digest", "Token", "Negotiate", "NTLM", "DPoP")
}
# Header, payload and signature, each base64url; a JWT's header and payload are JSON objects,
# so they start with `eyJ` (`{"`).
JWT = re.compile(r"\b(eyJ[A-Za-z0-9_-]+)\.(eyJ[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


def mask_credential(value: str) -> str:
    """`Bearer abc` → `Bearer ***`, `Basic dXM=` → `Basic ***`, anything else → `***`."""
    scheme = value.split(None, 1)
    known = SCHEMES.get(scheme[0].lower()) if scheme else None
    return f"{known} {MASK}" if known else MASK


def mask_jwts(text: str, strict: bool, tally: Tally) -> str:
    """Every JWT loses its signature (`eyJ….eyJ….***`), or all of itself when strict."""

    def masked(found: re.Match[str]) -> str:
        tally.add("jwts")
        return MASK if strict else f"{found[1]}.{found[2]}.{MASK}"

    return JWT.sub(masked, text) if "eyJ" in text else text


def mask_cookie_header(value: str, tally: Tally) -> str:
    """`Cookie: a=1; b=2` → `a=***; b=***`: every value masked, the names kept."""
    pairs = [pair.strip() for pair in value.split(";") if pair.strip()]
    masked = [f"{pair.partition('=')[0].strip()}={MASK}" for pair in pairs if "=" in pair]
    tally.add("cookies", max(len(masked), 1))
    return "; ".join(masked) or MASK


def mask_set_cookie(value: str, tally: Tally) -> str:
    """`Set-Cookie: sid=1; Path=/` → `sid=***; Path=/`: the value masked, attributes kept."""
    tally.add("cookies")
    pair, separator, attributes = value.partition(";")
    if "=" not in pair:
        return MASK
    return f"{pair.partition('=')[0].strip()}={MASK}{separator}{attributes}"


def mask_pairs(text: str, names: SecretNames, strict: bool, tally: Tally, kind: str) -> str:
    """`a=1&password=x` → `a=1&password=***`: a form body or a query string, order and raw
    encoding of everything else kept; a JWT in any other value is masked by the JWT rule."""
    pieces = text.split("&")
    for index, piece in enumerate(pieces):
        name, separator, value = piece.partition("=")
        if separator and value and unquote_plus(name) in names:
            pieces[index] = f"{name}={MASK}"
            tally.add(kind)
        else:
            pieces[index] = mask_jwts(piece, strict, tally)
    return "&".join(pieces)


def mask_url(url: str, names: SecretNames, strict: bool, tally: Tally) -> str:
    """Secret query parameters (and OAuth's `#access_token=` fragment) of a URL or a path."""
    if "?" not in url and "#" not in url:
        return mask_jwts(url, strict, tally)
    rest, hash_mark, fragment = url.partition("#")
    base, question_mark, query = rest.partition("?")
    base = mask_jwts(base, strict, tally)
    if question_mark:
        query = mask_pairs(query, names, strict, tally, "query_parameters")
    if hash_mark:
        fragment = mask_pairs(fragment, names, strict, tally, "query_parameters")
    return f"{base}{question_mark}{query}{hash_mark}{fragment}"
