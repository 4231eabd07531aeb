"""The local HTTP API (spec section 2.3): `ApiServer` serves `/api/v1` and the web page."""

from mitmtape.api.server import ApiServer

__all__ = ["ApiServer"]
