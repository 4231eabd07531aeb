"""The HTTP API's read-and-manage endpoints: sessions, flows, artifacts, workspace, compare.

Each handler parses its parameters, makes one core call on a worker thread and shapes the
answer; the core does the work, as it does for the CLI and the addon commands.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from tornado.iostream import StreamClosedError

from mitmtape.api.base import (
    FILTER_QUERY,
    JSON_TYPE,
    PAGE_QUERY,
    ApiError,
    ApiHandler,
    attachment,
    preferred_type,
    with_charset,
)
from mitmtape.api.markdown import PAGE_POLICY, markdown_page
from mitmtape.api.transfer import REDACTED_HEADER
from mitmtape.capture.record import compile_expression
from mitmtape.codegen import generate
from mitmtape.compare import compare_sessions
from mitmtape.export.pipeline import safe_file_stem
from mitmtape.export.redaction import parse_mode, redact_one
from mitmtape.model import FlowRecord
from mitmtape.store import FlowFilter, Store

MARKDOWN_TYPE = "text/markdown"
HTML_TYPE = "text/html"
TEXT_TYPE = "text/plain"


def json_object(body: bytes, example: str) -> dict[str, Any]:
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise ApiError(400, f"the body must be a JSON object such as {example}")
    return document


def flow_page(
    store: Store,
    session_id: str,
    flow_filter: FlowFilter,
    paging: tuple[int, int, str, str | None],
    matches: Callable[[FlowRecord], bool] | None,
) -> dict[str, Any]:
    """One page of flow summaries by key (or offset), read without bodies, as the API sends it."""
    limit, offset, order, cursor = paging
    page = store.page_flows(session_id, flow_filter, limit, order, cursor, offset, matches)
    return {
        "session": session_id,
        "total": page.total,
        "total_estimated": page.estimated,
        "limit": limit,
        "offset": page.offset,
        "order": page.order,
        "next": page.next,
        "prev": page.prev,
        "flows": [record.summary() for record in page.records],
    }


class SessionsHandler(ApiHandler):
    async def get(self) -> None:
        sessions = await self.run(self.api.store.list_sessions)
        self.send_json({"sessions": [session.to_json() for session in sessions]})

    async def post(self) -> None:
        document = json_object(self.request.body, '{"name": "API tests"}')
        name, description = document.get("name"), document.get("description", "")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "name must be a non-empty string")
        if not isinstance(description, str):
            raise ApiError(400, "description must be a string")
        try:
            session = await self.run(self.api.store.create_session, name, description)
        except ApiError as exc:  # with a valid name, the store refuses only a name in use
            raise ApiError(409, exc.message) from None
        self.set_header("Location", f"/api/v1/sessions/{session.id}")
        self.send_json(session.to_json(), 201)


class SessionHandler(ApiHandler):
    async def get(self, session_ref: str) -> None:
        session = await self.run(self.api.store.get_session, session_ref)
        self.send_json(session.to_json())

    async def patch(self, session_ref: str) -> None:
        """Rename (`{"name": ...}`) and/or make active (`{"active": true}`)."""
        document = json_object(self.request.body, '{"name": "new name"} or {"active": true}')
        name, active = document.get("name"), document.get("active")
        if name is None and active is None:
            raise ApiError(400, "give name, active or both")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ApiError(400, "name must be a non-empty string")
        if active is not None and active is not True:
            raise ApiError(400, "active can only be set to true (another session takes over)")
        store = self.api.store
        session = await self.run(store.get_session, session_ref)
        if name is not None:
            try:
                session = await self.run(store.rename_session, session.id, name)
            except ApiError as exc:  # with a valid name, the store refuses only a name in use
                raise ApiError(409, exc.message) from None
        if active:
            session = await self.run(store.set_active, session.id)
            self.api.active_changed()
        self.send_json(session.to_json())

    async def delete(self, session_ref: str) -> None:
        """The session and all its flows; if it was active, another one takes over."""
        session = await self.run(self.api.store.delete_session, session_ref)
        self.api.active_changed()  # deleting the active session makes another one active
        self.send_json(session.to_json())


class FlowsHandler(ApiHandler):
    """`GET /sessions/{id}/flows`: a page by `cursor` (the `next` or `prev` of the last page) in
    `order` (asc, or desc for the newest first), or by `offset` for older clients."""

    QUERY = PAGE_QUERY | FILTER_QUERY | {"filter", "order", "cursor"}

    async def get(self, session_ref: str) -> None:
        limit, offset = self.query_page()
        paging = (limit, offset, self.query_raw("order") or "asc", self.query_text("cursor"))
        flow_filter = self.query_flow_filter()
        expression = self.query_text("filter")
        # Off the event loop: even a guarded parse takes a few hundred ms on mitmproxy 11.
        matches = await self.run(compile_expression, expression) if expression else None
        store = self.api.store
        session = await self.run(store.get_session, session_ref)
        self.send_json(await self.run(flow_page, store, session.id, flow_filter, paging, matches))


class FlowHandler(ApiHandler):
    async def get(self, flow_id: str) -> None:
        record = await self.run(self.api.store.get_flow, flow_id)
        self.send_json(record.to_json())


class CodeHandler(ApiHandler):
    """`GET /api/v1/flows/{id}/code/{target}[?redact=false|true|strict]`: the snippet, masked
    as `mitmtape copy --redact` masks it when asked, with what was masked in the header."""

    QUERY = frozenset({"redact"})

    async def get(self, flow_id: str, target: str) -> None:
        text = self.query_raw("redact")
        try:
            mode = parse_mode("false" if text is None else text)
        except ValueError:
            raise ApiError(400, f"redact must be false, true or strict, got {text!r}") from None
        record = await self.run(self.api.store.get_flow, flow_id)
        record, tally = redact_one(record, mode)
        try:
            snippet = generate(target, record)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if tally is not None:
            self.set_header(REDACTED_HEADER, tally.header())
        self.set_header("Content-Type", with_charset(TEXT_TYPE))
        self.finish(snippet + "\n")


class ArtifactsHandler(ApiHandler):
    QUERY = PAGE_QUERY | {"type", "session_id"}

    async def get(self) -> None:
        limit, offset = self.query_page()
        kind, session_id = self.query_text("type"), self.query_text("session_id")
        artifacts = await self.run(self.api.store.list_artifacts, kind, session_id, limit, offset)
        self.send_json(
            {
                "artifacts": [artifact.to_json() for artifact in artifacts],
                "limit": limit,
                "offset": offset,
            }
        )


class ArtifactHandler(ApiHandler):
    async def get(self, artifact_id: str) -> None:
        """The description and the content as a string (base64 if it is not UTF-8)."""
        artifact = await self.run(self.api.store.get_artifact, artifact_id)
        content = artifact.content or b""
        try:
            text, encoding = content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(content).decode("ascii"), "base64"
        self.send_json({**artifact.to_json(), "content": text, "content_encoding": encoding})

    async def delete(self, artifact_id: str) -> None:
        artifact = await self.run(self.api.store.delete_artifact, artifact_id)
        self.send_json(artifact.to_json())


class ArtifactDownloadHandler(ApiHandler):
    async def get(self, artifact_id: str) -> None:
        artifact = await self.run(self.api.store.get_artifact, artifact_id)
        self.set_header("Content-Type", with_charset(artifact.media_type))
        self.set_header("Content-Disposition", attachment(artifact.file_name))
        self.finish(artifact.content or b"")


class ReportHandler(ApiHandler):
    """report.md from the session's workspace: Markdown, or a page for `Accept: text/html`."""

    async def get(self, session_ref: str) -> None:
        session = await self.run(self.api.store.get_session, session_ref)
        report = await self.run(self.api.workspace.report, session.id)
        self.set_header("Vary", "Accept")
        accept = self.request.headers.get("Accept", "")
        if preferred_type(accept, (MARKDOWN_TYPE, HTML_TYPE)) == HTML_TYPE:
            self.set_header("Content-Type", with_charset(HTML_TYPE))
            self.set_header("Content-Security-Policy", PAGE_POLICY)
            text = report.decode("utf-8", "replace")
            self.finish(markdown_page(text, f"{session.name} — report"))
            return
        self.set_header("Content-Type", with_charset(MARKDOWN_TYPE))
        self.set_header(
            "Content-Disposition", attachment(f"{safe_file_stem(session.name)}_report.md")
        )
        self.finish(report)


class PocHandler(ApiHandler):
    """The `poc/` files as one zip, made while it is sent: each piece is made on a worker
    (reading the files) and flushed before the next, so memory stays at a few blocks however
    large the folder is and a slow client slows the zipping down instead of piling it up."""

    async def get(self, session_ref: str) -> None:
        session = await self.run(self.api.store.get_session, session_ref)
        archive = await self.run(self.api.workspace.poc_archive, session.id)
        self.set_header("Content-Type", "application/zip")
        self.set_header(
            "Content-Disposition", attachment(f"{safe_file_stem(session.name)}_poc.zip")
        )
        chunks = archive.chunks()
        try:
            while (chunk := await self.run(next, chunks, None)) is not None:
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return
        finally:
            chunks.close()


class CompareHandler(ApiHandler):
    """`GET /api/v1/compare?a=ID&b=ID[&deep=true]`: JSON, or the text report for
    `Accept: text/plain`; `deep` also compares what is inside the responses."""

    QUERY = frozenset({"a", "b", "deep"})

    async def get(self) -> None:
        a, b = self.query_text("a"), self.query_text("b")
        if a is None or b is None:
            raise ApiError(400, "compare needs two sessions: ?a=ID&b=ID")
        deep = self.query_bool("deep")
        comparison = await self.run(compare_sessions, self.api.store, a, b, deep)
        self.set_header("Vary", "Accept")
        accept = self.request.headers.get("Accept", "")
        if preferred_type(accept, (JSON_TYPE, TEXT_TYPE)) == TEXT_TYPE:
            self.set_header("Content-Type", with_charset(TEXT_TYPE))
            self.finish(comparison.to_text())
            return
        self.send_json(comparison.to_json())


class OpenApiHandler(ApiHandler):
    async def get(self) -> None:
        self.send_json(self.api.openapi)
