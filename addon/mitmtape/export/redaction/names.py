"""Which names are secret: header, cookie, query-parameter, form-field and JSON-key names.

The list follows the sanitizers people trust for shared HAR files (Chrome's, Google's and
Cloudflare's), plus the six credential headers of the spec. A name matches when, case and `-`/`_`
ignored, it is on the list, or one of its words is, or two adjacent words are (`X-CSRF-Token`,
`clientSecret`, `credit_card_number`). A few short names stay whole-name-only: their word
alone is too common to mean a secret (`status_code`, `error_code`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

# The spec's credential headers (section 3): always masked, in headers and cookie lists.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
SENSITIVE_NAMES: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "x-api-key",
    "x-auth-token",
    "auth",
    "authorization",
    "proxy-authorization",
    "session",
    "sessionid",
    "sid",
    "csrf",
    "xsrf",
    "signature",
    "sig",
    "otp",
    "code",
    "private_key",
    "credit_card",
    "card_number",
    "cvv",
    "ssn",
)
# Matched only as the whole name: as one word of a longer name they are seldom a secret.
WHOLE_NAME_ONLY = frozenset({"code"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def normalised(name: str) -> str:
    """`X-Api_Key` → `xapikey`: case and `-`/`_` (and other punctuation) ignored."""
    return "".join(character for character in name.lower() if character.isalnum())


def words(name: str) -> list[str]:
    """`X-CSRF-Token` → x, csrf, token; `clientSecret` → client, secret."""
    return [word.lower() for word in _WORD.findall(name)]


class SecretNames:
    """The default list plus the names a person added (`--redact-name`, `tape_redact_names`)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        added = {normalised(name) for name in extra if normalised(name)}
        everything = {normalised(name) for name in SENSITIVE_NAMES} | added
        self.whole = frozenset(everything)
        self.parts = frozenset(everything - WHOLE_NAME_ONLY)

    def __contains__(self, name: str) -> bool:
        if normalised(name) in self.whole:
            return True
        found = words(name)
        pairs = (first + second for first, second in pairwise(found))
        return any(word in self.parts for word in (*found, *pairs))
