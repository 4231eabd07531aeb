"""What a handler may use of the server that runs it, and nothing more.

Handlers reach the server only through this protocol (`ApiHandler.api`), so they never import
the module that builds the server and routes to them: the server depends on its handlers, never
the other way round.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Protocol

from mitmtape.api.events import EventHub
from mitmtape.store import Store
from mitmtape.workspace import Workspace


class ApiContext(Protocol):
    store: Store
    token: str
    port: int
    upload_limit: int
    artifacts_keep: int
    workspace: Workspace
    events: EventHub
    openapi: dict[str, Any]
    executor: Executor
    # True once the server is stopping: long answers (streams, zips) end early.
    closing: bool

    @property
    def hosts(self) -> frozenset[str]:
        """The `Host` values the server answers to."""
        ...

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every open stream; callable from any thread."""
        ...

    def active_changed(self) -> None:
        """A request changed which session is active: a proxy serving the API follows."""
        ...
