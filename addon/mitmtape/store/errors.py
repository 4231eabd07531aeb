"""The store's errors: each names the database, session, flow or artifact involved."""

from __future__ import annotations


class StoreError(Exception):
    """A problem a person can act on: the message names the database or session involved."""


class SessionNotFound(StoreError):
    pass


class FlowNotFound(StoreError):
    pass


class ArtifactNotFound(StoreError):
    pass


class StoreUnavailable(StoreError):
    """A write failed for a reason that may pass (a full disk, a server gone away): the caller
    may keep what it tried to write and try again later."""


def one_line(exc: BaseException) -> str:
    """An error's message on one line (libpq spreads its hints and context over several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
