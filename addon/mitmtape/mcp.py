"""The MCP server (`mitmtape mcp`): recorded traffic for coding agents, through the same core.

Gasoline's agents call a `generate` tool to get a capture; this door gives them that and the
rest of mitmtape (sessions, flows, one flow in full, copy as code, compare, import), each tool
a thin call into the functions the CLI and the API call. It runs on the official `mcp` SDK
(extra `mitmtape[mcp]`), over stdio or, with `--http PORT`, streamable HTTP on 127.0.0.1
behind the API's bearer token.

An agent's context is a place secrets leak to, so every tool that returns headers or bodies
redacts by default (spec section 9). Files are read and written only under the server's
working directory: an agent names paths, and `../../.ssh` must not be one of them.
"""

from __future__ import annotations

import functools
import hmac
import os
import socket
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import anyio.to_thread
import uvicorn
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from typing_extensions import TypedDict

from mitmtape.capture.record import compile_expression
from mitmtape.codegen import TARGETS
from mitmtape.codegen import generate as generate_code
from mitmtape.compare import compare_sessions
from mitmtape.export.decode import decode_body
from mitmtape.export.formats import FORMAT_NAMES
from mitmtape.export.pipeline import ExportOptions, ExportResult, export_session, get_format
from mitmtape.export.redaction import RedactMode, Tally, parse_mode, redact_record, redaction_for
from mitmtape.importers import IMPORTERS, import_file, import_new_session
from mitmtape.importers.formats import AUTO
from mitmtape.model import OMISSIONS, Body, FlowRecord, Headers, Session
from mitmtape.store import FlowFilter, InvalidCursor, Store
from mitmtape.text import count, human_size

# At most this many flows per `flows` call; `next_cursor` asks for the rest.
FLOWS_PAGE_MAX = 100
PAGE_BOUNDS = {"minimum": 1, "maximum": FLOWS_PAGE_MAX}
# A body in a `flow` result is cut after this many characters of text (or of base64).
FLOW_BODY_CHARACTERS = 100_000
# WebSocket messages shown in a `flow` result; `websocket_total` says how many there were.
FLOW_WEBSOCKET_MESSAGES = 100
# `generate` without `save_to` returns a text export inline only up to this size.
GENERATE_INLINE_BYTES = 1024 * 1024
HTTP_HOST = "127.0.0.1"
HTTP_PATH = "/mcp"
SERVER_NAME = "mitmtape"
INSTRUCTIONS = (
    "mitmtape keeps HTTP traffic recorded through mitmproxy in sessions. List them with "
    "`sessions`, a session's flows with `flows`, one flow in full with `flow`; export with "
    "`generate` (HAR, JSON, CSV, Postman, HTML report...), turn a flow into code with "
    "`copy_as`, compare two sessions with `compare`, bring a HAR/JSON/mitmproxy file in with "
    "`import`. Headers and bodies are redacted unless `redact` is false."
)

Redact = Annotated[
    bool | Literal["true", "false", "strict"],
    Field(
        description="mask secrets in headers, cookies, query parameters and body fields "
        "(true, the default), also JWTs whole (strict), or nothing (false)"
    ),
]
SessionRef = Annotated[
    str | None, Field(description="session id or exact name; default: the active session")
]
UrlPart = Annotated[str | None, Field(description="only flows whose URL contains this text")]
Method = Annotated[str | None, Field(description="only this HTTP method, e.g. POST")]
StatusMin = Annotated[int | None, Field(description="only responses with at least this status")]
StatusMax = Annotated[int | None, Field(description="only responses with at most this status")]
Expression = Annotated[
    str | None,
    Field(description="mitmproxy filter expression, e.g. '~d api.example.com & ~m POST'"),
]


class SessionInfo(TypedDict):
    id: str
    name: str
    description: str
    created_at: str
    updated_at: str
    flow_count: int
    total_size: Annotated[int, Field(description="bytes of bodies")]
    active: Annotated[bool, Field(description="the session the proxy records into")]
    first_flow_at: str | None
    last_flow_at: str | None


class SessionsResult(TypedDict):
    sessions: list[SessionInfo]


class FlowSummary(TypedDict):
    id: str
    started_at: str
    method: str
    url: str
    host: str
    path: str
    status: Annotated[int, Field(description="0 when there was no response")]
    duration_ms: float | None
    request_size: int
    response_size: int
    content_type: str
    source: str
    tags: list[str]
    error: str | None


class FlowsResult(TypedDict):
    session: str
    total: Annotated[int, Field(description="flows matching the filters")]
    total_estimated: Annotated[
        bool, Field(description="true: `total` is estimated from the flows read so far")
    ]
    flows: list[FlowSummary]
    next_cursor: Annotated[
        str | None, Field(description="pass as `cursor` for the next page; null on the last")
    ]


class BodyView(TypedDict):
    size: Annotated[int, Field(description="bytes that crossed the wire (content-encoded)")]
    encoding: Annotated[
        Literal["text", "base64", "omitted"],
        Field(description="text (decoded, UTF-8), base64 (binary) or omitted (not recorded)"),
    ]
    content: str
    truncated: Annotated[bool, Field(description="content was cut at the result's limit")]
    content_length: Annotated[int, Field(description="characters of the whole content")]


class RequestView(TypedDict):
    method: str
    url: str
    host: str
    port: int
    path: str
    http_version: str
    headers: list[list[str]]
    body: BodyView
    trailers: list[list[str]] | None


class ResponseView(TypedDict):
    status: int
    reason: str
    http_version: str
    headers: list[list[str]]
    body: BodyView
    trailers: list[list[str]] | None


class FlowView(TypedDict):
    id: str
    session_id: str
    started_at: str
    duration_ms: float | None
    source: str
    request: RequestView
    response: ResponseView | None
    timings: Annotated[
        dict[str, int] | None,
        Field(description="microseconds: dns, connect, ssl, send, wait, receive (-1 unknown)"),
    ]
    error: str | None
    tags: list[str]
    metadata: dict[str, Any]
    client: dict[str, Any] | None
    server: dict[str, Any] | None
    websocket: list[dict[str, Any]] | None
    websocket_total: int


class FlowResult(TypedDict):
    flow: FlowView
    redacted: Annotated[
        dict[str, int] | None, Field(description="what was masked, by kind; null when off")
    ]


class GenerateResult(TypedDict):
    format: str
    session: str
    flows: Annotated[int, Field(description="flows written")]
    matched: Annotated[int, Field(description="flows that matched, before the format's cap")]
    size: Annotated[int, Field(description="bytes of the export")]
    path: Annotated[str | None, Field(description="the file written (with save_to)")]
    content: Annotated[str | None, Field(description="the export itself (without save_to)")]
    redacted: dict[str, int] | None
    warning: str | None


class SnippetResult(TypedDict):
    target: str
    snippet: str
    redacted: dict[str, int] | None


class CompareResult(TypedDict):
    text: Annotated[str, Field(description="the comparison as people read it")]
    comparison: dict[str, Any]


class ImportResultView(TypedDict):
    session: str
    session_name: str
    imported: int
    skipped: int
    errors: list[str]


class Tools:
    """The tools over one store; paths that agents name stay under `root`."""

    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.root = root.resolve()

    def sessions(self) -> SessionsResult:
        """List the recorded sessions with their flow counts and sizes (the active one is the
        proxy's current recording)."""
        return {"sessions": [session.to_json() for session in self.store.list_sessions()]}  # type: ignore[misc]

    def flows(
        self,
        session: SessionRef = None,
        url: UrlPart = None,
        method: Method = None,
        status_min: StatusMin = None,
        status_max: StatusMax = None,
        filter: Expression = None,
        limit: Annotated[
            int, Field(description=f"1 to {FLOWS_PAGE_MAX}", json_schema_extra=PAGE_BOUNDS)
        ] = FLOWS_PAGE_MAX,
        cursor: Annotated[str | None, Field(description="next_cursor of the last call")] = None,
        redact: Redact = True,
    ) -> FlowsResult:
        """A session's flows, oldest first, without headers or bodies (use `flow` for one in
        full): at most 100 per call, `next_cursor` for more."""
        if not 1 <= limit <= FLOWS_PAGE_MAX:
            raise ToolError(f"limit must be 1 to {FLOWS_PAGE_MAX}, not {limit}")
        found = self._session(session)
        flow_filter = FlowFilter(
            method=method, url=url, status_min=status_min, status_max=status_max
        )
        matches = compile_expression(filter) if filter else None
        try:
            page = self.store.page_flows(
                found.id, flow_filter, limit, cursor=cursor, matches=matches
            )
        except InvalidCursor:
            raise ToolError(
                f"cursor must be the next_cursor of an earlier flows call, not {cursor!r}"
            ) from None
        records = page.records
        redaction = redaction_for(parse_mode(redact))
        if redaction is not None:
            records = [redact_record(record, redaction, Tally()) for record in records]
        return {
            "session": found.id,
            "total": page.total,
            "total_estimated": page.estimated,
            "flows": [record.summary() for record in records],  # type: ignore[misc]
            "next_cursor": page.next,
        }

    def flow(self, flow_id: str, redact: Redact = True) -> FlowResult:
        """One flow in full: headers, bodies (decoded, as text where they are text, cut at
        100,000 characters with the size said), timings and error."""
        record, tally = self._redacted(self.store.get_flow(flow_id), redact)
        return {"flow": flow_view(record), "redacted": tally}

    def generate(
        self,
        format: Annotated[str, Field(description=f"one of {', '.join(FORMAT_NAMES)}")] = "har",
        session: SessionRef = None,
        url: UrlPart = None,
        method: Method = None,
        status_min: StatusMin = None,
        status_max: StatusMax = None,
        filter: Expression = None,
        redact: Redact = True,
        save_to: Annotated[
            str | None,
            Field(
                description="write the export to this file (or folder) under the server's "
                "working directory, e.g. ./debug/traffic.har; folders are made"
            ),
        ] = None,
    ) -> GenerateResult:
        """Export a session's flows (filtered) as HAR or another format: returned inline when
        it is text of at most 1 MB, else written to `save_to`."""
        export_format = get_format(format)
        if save_to is None and export_format.binary:
            raise ToolError(
                f"the {export_format.name} format is binary and cannot be returned inline; "
                "give save_to, a path under the server's working directory"
            )
        found = self._session(session)
        options = ExportOptions(
            flow_filter=FlowFilter(
                method=method, url=url, status_min=status_min, status_max=status_max
            ),
            matches=compile_expression(filter) if filter else None,
            redact=parse_mode(redact),
        )
        if save_to is not None:
            target = self.inside(save_to, "save_to")
            folder = save_to.endswith(("/", os.sep))
            destination = f"{target}{os.sep}" if folder else target
            result = export_session(self.store, found.id, export_format.name, destination, options)
            return _generated(result, found.id, path=str(result.path))
        with tempfile.TemporaryDirectory(prefix="mitmtape-mcp-") as temporary:
            result = export_session(self.store, found.id, export_format.name, temporary, options)
            check_inline(result)
            content = result.path.read_text(encoding="utf-8")
        return _generated(result, found.id, content=content)

    def copy_as(
        self,
        flow_id: str,
        target: Annotated[str, Field(description=f"one of {', '.join(TARGETS)}")] = "curl",
        redact: Redact = True,
    ) -> SnippetResult:
        """A recorded flow as code that sends the same request again (curl, fetch, python,
        httpie, or markdown)."""
        record, tally = self._redacted(self.store.get_flow(flow_id), redact)
        return {"target": target, "snippet": generate_code(target, record), "redacted": tally}

    def compare(
        self,
        session_a: Annotated[str, Field(description="the session before (id or name)")],
        session_b: Annotated[str, Field(description="the session after (id or name)")],
        deep: Annotated[bool, Field(description="also compare bodies, headers, sizes")] = False,
    ) -> CompareResult:
        """Compare two sessions: endpoints only in A, only in B, status and timing changes."""
        comparison = compare_sessions(self.store, session_a, session_b, deep=deep)
        return {"text": comparison.to_text(), "comparison": comparison.to_json()}

    def import_(
        self,
        path: Annotated[str, Field(description="a file under the server's working directory")],
        into: Annotated[
            str | None, Field(description="session to import into; default: a new session")
        ] = None,
        format: Annotated[
            str, Field(description=f"{AUTO} (sniffed) or one of {', '.join(IMPORTERS)}")
        ] = AUTO,
    ) -> ImportResultView:
        """Import a HAR, mitmtape JSON or mitmproxy flow file into a new session (named after
        the file) or into `into`."""
        if format != AUTO and format not in IMPORTERS:
            raise ToolError(
                f"format must be {AUTO} or one of {', '.join(IMPORTERS)}, not {format!r}"
            )
        file = self.inside(path, "path")
        if not file.is_file():
            raise ToolError(f"no file {path!r} under the server's working directory {self.root}")
        if into:
            found = self.store.get_session(into)
            result = import_file(self.store, file, found.id, format)
        else:
            found, result = import_new_session(self.store, file, format)
        return {"session": found.id, "session_name": found.name, **result.to_json()}  # type: ignore[typeddict-item]

    def inside(self, path: str, what: str) -> Path:
        """`path` resolved against the working directory (links followed), refused when it
        lands outside it."""
        resolved = (self.root / os.path.expanduser(path)).resolve()
        if not resolved.is_relative_to(self.root):
            raise ToolError(
                f"{what} must be a path under the server's working directory {self.root}, "
                f"not {path!r}"
            )
        return resolved

    def _session(self, ref: str | None) -> Session:
        return self.store.get_session(ref) if ref else self.store.active_session()

    @staticmethod
    def _redacted(
        record: FlowRecord, redact: RedactMode | str
    ) -> tuple[FlowRecord, dict[str, int] | None]:
        """The record as a result may show it, and what was masked (None: redaction off)."""
        redaction = redaction_for(parse_mode(redact))
        if redaction is None:
            return record, None
        tally = Tally()
        return redact_record(record, redaction, tally), tally.as_json()


def body_view(body: Body, headers: Headers) -> BodyView:
    """A body as an agent reads it: decoded, text where it is text, cut at the limit."""
    if body.omitted is not None:
        reason = OMISSIONS[body.omitted]
        return {
            "size": body.size,
            "encoding": "omitted",
            "content": reason,
            "truncated": False,
            "content_length": len(reason),
        }
    decoded = decode_body(body, headers)
    is_base64 = decoded.is_base64 and bool(decoded.data)
    # Base64 is cut at a multiple of 4, so what is shown still decodes.
    limit = FLOW_BODY_CHARACTERS - (FLOW_BODY_CHARACTERS % 4 if is_base64 else 0)
    return {
        "size": body.size,
        "encoding": "base64" if is_base64 else "text",
        "content": decoded.text[:limit],
        "truncated": len(decoded.text) > limit,
        "content_length": len(decoded.text),
    }


def flow_view(record: FlowRecord) -> FlowView:
    """The record's JSON with bodies an agent can read and WebSocket messages up to the limit."""
    view: dict[str, Any] = record.to_json(bodies=False)
    view["request"]["body"] = body_view(record.request.body, record.request.headers)
    if record.response is not None:
        view["response"]["body"] = body_view(record.response.body, record.response.headers)
    messages = view.pop("websocket")
    view["websocket"] = None if messages is None else messages[:FLOW_WEBSOCKET_MESSAGES]
    view["websocket_total"] = len(messages or [])
    return view  # type: ignore[return-value]


def check_inline(result: ExportResult) -> None:
    """Refuse an export too large for an agent's context, saying how large it is."""
    if result.size > GENERATE_INLINE_BYTES:
        raise ToolError(
            f"the {result.format.label} export is {human_size(result.size)} "
            f"({count(result.flows, 'flow')}), more than the {human_size(GENERATE_INLINE_BYTES)} "
            "returned inline; give save_to to write it to a file, or narrow the filters"
        )


def _generated(
    result: ExportResult, session_id: str, path: str | None = None, content: str | None = None
) -> GenerateResult:
    return {
        "format": result.format.name,
        "session": session_id,
        "flows": result.flows,
        "matched": result.matched,
        "size": result.size,
        "path": path,
        "content": content,
        "redacted": None if result.redacted is None else result.redacted.as_json(),
        "warning": result.warning,
    }


P = ParamSpec("P")
R = TypeVar("R")


def in_worker(method: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """The tool as a coroutine running `method` on a worker thread: an export or a compare
    must not hold up the server's event loop (pings, other requests)."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    return run


# Tools that change nothing, as MCP clients are told.
READ_ONLY = ToolAnnotations(readOnlyHint=True)


def build_server(tools: Tools) -> FastMCP:
    server = FastMCP(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING", host=HTTP_HOST)
    server.settings.streamable_http_path = HTTP_PATH
    for method in (tools.sessions, tools.flows, tools.flow, tools.copy_as, tools.compare):
        server.add_tool(in_worker(method), annotations=READ_ONLY)
    server.add_tool(in_worker(tools.generate))
    server.add_tool(in_worker(tools.import_), name="import")
    return server


def serve_stdio(store: Store) -> None:
    """Serve one client on standard input and output until it closes them."""
    build_server(Tools(store, Path.cwd())).run("stdio")


class BearerToken:
    """Requests without `Authorization: Bearer T` are refused (401), as the HTTP API does."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                refusal = JSONResponse(
                    {"error": "missing or wrong token: send Authorization: Bearer TOKEN"},
                    401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def listen(port: int) -> socket.socket:
    """The server's socket on 127.0.0.1, bound and listening before the address is printed, so
    a client that reads it connects at once (port 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HTTP_HOST, port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def serve_http(store: Store, sock: socket.socket, token: str) -> None:
    """Serve the streamable HTTP transport on `sock` until interrupted."""
    app = BearerToken(build_server(Tools(store, Path.cwd())).streamable_http_app(), token)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
