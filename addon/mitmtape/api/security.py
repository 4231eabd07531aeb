"""Who may call the API and from where: the token (given, from `MITMTAPE_TOKEN`, or made), the
web page's sign-in cookie derived from it, and the Host and Origin checks against DNS
rebinding and cross-site requests."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from tornado.httputil import HTTPServerRequest

TOKEN_ENV = "MITMTAPE_TOKEN"
API_DEFAULT_PORT = 8086
# Methods that change nothing: a cross-site request of any other method is refused (CSRF).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The web page's sign-in cookie: named per port, since browsers share cookies across ports.
COOKIE_PREFIX = "mitmtape-"
COOKIE_PURPOSE = b"mitmtape web page sign-in"


def api_token(given: str | None = None) -> str:
    """The token to require; a random one when none is given, printed by the caller at start."""
    return given or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    return f"{COOKIE_PREFIX}{port}"


def cookie_value(token: str) -> str:
    """What the sign-in cookie holds: derived from the token, so the cookie is not the token
    itself (it is no use as a Bearer header), and it changes when the token does."""
    return hmac.new(token.encode(), COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def same_text(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def own_origins(host: str, port: int) -> frozenset[str]:
    """The `Host` values this server answers: its loopback address, or localhost, and its port.
    Anything else is a name that resolved here by DNS rebinding."""
    address = f"[{host}]" if ":" in host else host
    return frozenset({f"{address}:{port}", f"localhost:{port}"})


def refusal(request: HTTPServerRequest, hosts: frozenset[str]) -> str | None:
    """Why a request must not be served (DNS rebinding, CSRF), or None when it may be."""
    host = request.headers.get("Host", "").lower()
    if host not in hosts:
        return f"this server answers only for {' or '.join(sorted(hosts))}, not {host!r}"
    origin = request.headers.get("Origin")
    if request.method not in SAFE_METHODS and origin is not None:
        scheme, _, origin_host = origin.lower().partition("://")
        if scheme != "http" or origin_host not in hosts:
            return f"a {request.method} from another site ({origin!r}) is refused"
    return None
