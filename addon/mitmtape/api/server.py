"""The local HTTP API (`/api/v1/...`): the same core calls as the CLI, over HTTP on loopback.

The server runs on its own thread with its own asyncio loop, so neither a slow client nor a
large export ever touches mitmproxy's event loop; blocking core calls (store reads, exports,
imports, compares) go to a small thread pool so one slow request does not hold up the others.
Every request needs the token (`Authorization: Bearer T`, or the web page's sign-in cookie);
without it the answer is a bare 401. Requests for another `Host` (DNS rebinding) and changes
from another site's page (CSRF) are refused before that.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from socket import socket
from typing import Any
from urllib.parse import quote

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPMessageDelegate, HTTPServerRequest
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from mitmtape.api import handlers
from mitmtape.api.base import (
    BODY_DISCARD_MAX,
    REQUEST_BODY_MAX,
    BodyTooLargeHandler,
    NotFoundHandler,
)
from mitmtape.api.chunked import BoundedChunks, ChunkedTooLargeHandler
from mitmtape.api.events import (
    FLOW_CREATED,
    HEARTBEAT_SECONDS,
    EventHub,
    FirstTime,
    encode_event,
    flow_created,
)
from mitmtape.api.openapi import openapi_document
from mitmtape.api.security import own_origins
from mitmtape.api.stream import EventsHandler
from mitmtape.api.transfer import ExportHandler, FileImportHandler, ImportHandler, UploadHandler
from mitmtape.export.pipeline import ARTIFACTS_KEEP
from mitmtape.importers import IMPORT_FILE_LIMIT
from mitmtape.store import Store
from mitmtape.web import SIGN_IN_QUERY, WEB_ROUTES
from mitmtape.workspace import Workspace

logger = logging.getLogger(__name__)

API_WORKERS = 4
# A connection that has not sent a whole request head within this many seconds (idle before
# or between requests, or trickling its headers) is closed, as is one whose request body takes
# longer (uploads get `UPLOAD_BODY_TIMEOUT`): a client cannot hold a connection open for good.
API_IDLE_TIMEOUT = 60.0
STOP_TIMEOUT_SECONDS = 10.0
LOCALHOST = "localhost"

_ID = r"([^/]+)"
ROUTES: list[tuple[str, type[RequestHandler]]] = [
    (r"/api/v1/sessions", handlers.SessionsHandler),
    (rf"/api/v1/sessions/{_ID}", handlers.SessionHandler),
    (rf"/api/v1/sessions/{_ID}/flows", handlers.FlowsHandler),
    (rf"/api/v1/sessions/{_ID}/export/{_ID}", ExportHandler),
    (rf"/api/v1/sessions/{_ID}/import/{_ID}", ImportHandler),
    (rf"/api/v1/sessions/{_ID}/report", handlers.ReportHandler),
    (rf"/api/v1/sessions/{_ID}/poc", handlers.PocHandler),
    (rf"/api/v1/flows/{_ID}", handlers.FlowHandler),
    (rf"/api/v1/flows/{_ID}/code/{_ID}", handlers.CodeHandler),
    (r"/api/v1/artifacts", handlers.ArtifactsHandler),
    (rf"/api/v1/artifacts/{_ID}", handlers.ArtifactHandler),
    (rf"/api/v1/artifacts/{_ID}/download", handlers.ArtifactDownloadHandler),
    (r"/api/v1/import", FileImportHandler),
    (r"/api/v1/compare", handlers.CompareHandler),
    (r"/api/v1/events", EventsHandler),
    (r"/api/v1/openapi.json", handlers.OpenApiHandler),
]


def loopback_address(host: str) -> str:
    """The address to bind: `host` if it is a loopback address, else a ValueError."""
    if host.lower() == LOCALHOST:
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"the mitmtape API listens on loopback addresses only (127.0.0.0/8, ::1, "
            f"localhost); {host!r} is not one"
        )
    return str(address)


class ApiApplication(Application):
    """Routes as tornado does, except that a body over `REQUEST_BODY_MAX` for a route that
    reads its body whole gets a 413 the client can read: declared, at once
    (`BodyTooLargeHandler`); chunked, once it has passed the limit (`BoundedChunks`)."""

    def get_handler_delegate(
        self,
        request: HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes] | None = None,
        path_kwargs: dict[str, bytes] | None = None,
    ) -> HTTPMessageDelegate:
        declared = request.headers.get("Content-Length", "")
        whole = not issubclass(target_class, UploadHandler)
        if whole and declared.isdigit() and int(declared) > REQUEST_BODY_MAX:
            target_class, target_kwargs = BodyTooLargeHandler, None
        route = super().get_handler_delegate(
            request, target_class, target_kwargs, path_args, path_kwargs
        )
        if not whole or "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
            return route
        assert request.connection is not None
        request.connection.set_max_body_size(BODY_DISCARD_MAX)
        return BoundedChunks(
            route,
            lambda: super(ApiApplication, self).get_handler_delegate(
                request, ChunkedTooLargeHandler, None, path_args, path_kwargs
            ),
        )


def _log_request(handler: RequestHandler) -> None:
    request = handler.request
    logger.debug("%s %s %s", handler.get_status(), request.method, request.path)


class ApiServer:
    """The API on `host:port` (port 0: a free one, known after `start`)."""

    def __init__(
        self,
        store: Store,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        upload_limit: int = IMPORT_FILE_LIMIT,
        heartbeat: float = HEARTBEAT_SECONDS,
        idle_timeout: float = API_IDLE_TIMEOUT,
        artifacts_keep: int = ARTIFACTS_KEEP,
    ) -> None:
        if not token:
            raise ValueError("the mitmtape API needs a non-empty token")
        self.store = store
        self.token = token
        self.host = loopback_address(host)
        self.port = port
        self.upload_limit = upload_limit
        self.idle_timeout = idle_timeout
        # Exports made through the API keep this many artifacts per session (the addon sets it
        # from `tape_artifacts_keep`).
        self.artifacts_keep = artifacts_keep
        self.workspace = Workspace(store)
        # Told (from a worker thread) when a request changed which session is active, so a
        # proxy serving this API records where the page says.
        self.on_active_changed: Callable[[], None] | None = None
        self.events = EventHub(heartbeat)
        self.openapi: dict[str, Any] = openapi_document()
        self.executor = ThreadPoolExecutor(API_WORKERS, thread_name_prefix="mitmtape-api")
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._first_time = FirstTime()
        # Flows committed by any process on a shared database, heard on this thread.
        self._stop_listening = threading.Event()
        self._listener: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def sign_in_url(self) -> str:
        """The web page's link to print at start: opening it signs the browser in."""
        return f"{self.url}/?{SIGN_IN_QUERY}={quote(self.token, safe='')}"

    @property
    def hosts(self) -> frozenset[str]:
        return own_origins(self.host, self.port)

    def start(self) -> None:
        """Bind (so a port in use fails here, and `port` is the real one), then serve."""
        if self._thread is not None or self.closing:
            raise RuntimeError("an ApiServer starts once; make a new one to serve again")
        sockets = bind_sockets(self.port, address=self.host)
        self.port = sockets[0].getsockname()[1]
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(sockets, ready), name="mitmtape-api", daemon=True
        )
        self._thread.start()
        ready.wait()
        self._listener = threading.Thread(
            target=self._announce_committed, name="mitmtape-api-listen", daemon=True
        )
        self._listener.start()

    def _announce_committed(self) -> None:
        """`flow.created` for every flow any proxy commits to a shared database (a SQLite file
        has no other writers to hear: its proxy's writer reports to the addon).

        Every flow the whole team records is heard here, by every API server: its row is read
        only while a stream is open, and only if this server has not announced it already (its
        own proxy's writer reports first, as a rule)."""
        for flow_ids in self.store.committed_flow_ids(self._stop_listening):
            if not self._streaming:
                continue
            fresh = [flow_id for flow_id in flow_ids if self._first_time(flow_id)]
            if fresh:
                self._deliver_flows(list(map(flow_created, self.store.flows_by_id(fresh))))

    def _serve(self, sockets: list[socket], ready: threading.Event) -> None:
        try:
            asyncio.run(self._main(sockets, ready))
        finally:
            ready.set()

    async def _main(self, sockets: list[socket], ready: threading.Event) -> None:
        application = ApiApplication(
            [*ROUTES, *WEB_ROUTES],
            api=self,
            default_handler_class=NotFoundHandler,
            log_function=_log_request,
        )
        server = HTTPServer(
            application,
            max_body_size=REQUEST_BODY_MAX,
            idle_connection_timeout=self.idle_timeout,
            body_timeout=self.idle_timeout,
        )
        server.add_sockets(sockets)
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        ready.set()
        await self._stopped.wait()
        server.stop()
        self.events.close()
        await asyncio.sleep(0)  # let the event streams end cleanly
        await server.close_all_connections()

    def stop(self) -> None:
        """Stop serving; running exports and imports stop at their next check."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None:
            return
        self.closing = True
        self._stop_listening.set()
        if loop is not None and stopped is not None:
            with suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stopped.set)
        thread.join(STOP_TIMEOUT_SECONDS)
        if self._listener is not None:  # it looks at its stop flag twice a second
            self._listener.join(STOP_TIMEOUT_SECONDS)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._thread = self._loop = self._stopped = None

    def active_changed(self) -> None:
        if self.on_active_changed is not None:
            self.on_active_changed()

    def publish_flows(self, summaries: Iterable[dict[str, Any]]) -> None:
        """`flow.created` for each flow not announced before, handed to the API's loop at once.

        Every committed batch comes here, on the writer's listener thread in the proxy's
        process: with no stream open, nothing is made, not even the summaries (a generator).
        """
        if self._streaming:
            self._deliver_flows(
                [summary for summary in summaries if self._first_time(summary["id"])]
            )

    @property
    def _streaming(self) -> bool:
        """Whether an event stream is open to hear a flow (read from any thread)."""
        return self._loop is not None and self.events.listening

    def _deliver_flows(self, summaries: list[dict[str, Any]]) -> None:
        """`flow.created` for each of these, handed to the API's loop at once."""
        loop = self._loop
        messages = [encode_event(FLOW_CREATED, summary) for summary in summaries]
        if loop is not None and messages:
            with suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.events.deliver_all, messages)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every open stream; callable from any thread, a no-op when stopped."""
        flow_id = data.get("id") if event == FLOW_CREATED else None
        if flow_id is not None and not self._first_time(flow_id):
            return
        message = encode_event(event, data)
        loop = self._loop
        if loop is None:
            return
        with suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.events.deliver, message)
