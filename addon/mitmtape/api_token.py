"""The API token: given (`--token`, option `tape_api_token`), from `MITMTAPE_TOKEN`, or made."""

from __future__ import annotations

import os
import secrets

TOKEN_ENV = "MITMTAPE_TOKEN"
API_DEFAULT_PORT = 8086


def api_token(given: str | None = None) -> str:
    """The token to require; a random one when none is given, printed by the caller at start."""
    return given or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
