"""The OpenAPI 3.1 document of the HTTP API, served at `/api/v1/openapi.json`.

Enumerations come from the same registries the server uses (export formats, importers, code
targets), so the document cannot list a format the server refuses. The test suite runs a
property-based client generated from this document against a live server.
"""

from __future__ import annotations

from typing import Any

from mitmtape import __version__
from mitmtape.api.base import OFFSET_MAX, PAGE_LIMIT_MAX, STATUS_RANGE
from mitmtape.codegen import TARGETS
from mitmtape.export.formats import FORMAT_NAMES
from mitmtape.importers import IMPORTERS

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


def _file(media_types: list[str], description: str, headers: Schema | None = None) -> Schema:
    # A file's bytes are whatever the format holds: no schema beyond the media type.
    content: Schema = {media: {"schema": {}} for media in media_types}
    response: Schema = {"description": description, "content": content}
    if headers:
        response["headers"] = headers
    return response


def _path(name: str, description: str, values: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "string", "minLength": 1}
    if values:
        schema = {"type": "string", "enum": values}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


SESSION_REF = _path("id", "session id (ULID) or exact name")
STATUS = {"type": "integer", "minimum": STATUS_RANGE[0], "maximum": STATUS_RANGE[1]}
PAGE = [
    _query(
        "limit",
        {"type": "integer", "minimum": 0, "maximum": PAGE_LIMIT_MAX, "default": 100},
        "at most this many",
    ),
    _query(
        "offset", {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0}, "skip"
    ),
]
FLOW_FILTERS = [
    _query("method", {"type": "string"}, "only this HTTP method"),
    _query("url", {"type": "string"}, "only URLs containing this text"),
    _query("host", {"type": "string"}, "only this host (any letter case)"),
    _query("status_min", STATUS, "only statuses at least this (0: no response)"),
    _query("status_max", STATUS, "only statuses at most this"),
]
DOWNLOAD_HEADERS: Schema = {
    "Content-Disposition": {
        "description": 'attachment; filename="..." (and filename* for non-ASCII names)',
        "schema": {"type": "string"},
    }
}
REDACTED_HEADERS: Schema = {
    "X-Mitmtape-Redacted": {
        "description": "with redact=true|strict: what was masked, by kind "
        "(headers=14, cookies=6, query_parameters=3, body_fields=2, jwts=1, bodies=0)",
        "schema": {"type": "string"},
    }
}
COMMON_RESPONSES: Schema = {
    "401": {"description": "missing or wrong token (empty body)"},
    "403": _error("a Host other than this server's, or a change sent from another site"),
}

SCHEMAS: Schema = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Session": {
        "type": "object",
        "required": ["id", "name", "description", "created_at", "updated_at", "flow_count"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "flow_count": {"type": "integer"},
            "total_size": {"type": "integer"},
            "active": {"type": "boolean"},
            "first_flow_at": {"type": ["string", "null"]},
            "last_flow_at": {"type": ["string", "null"]},
        },
    },
    "NewSession": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": r"\S"},
            "description": {"type": "string"},
        },
    },
    "SessionChange": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "name": {"type": "string", "pattern": r"\S"},
            "active": {"const": True},
        },
    },
    "FlowSummary": {
        "type": "object",
        "required": ["id", "started_at", "method", "url", "status"],
        "properties": {
            "id": {"type": "string"},
            "started_at": {"type": "string"},
            "method": {"type": "string"},
            "url": {"type": "string"},
            "host": {"type": "string"},
            "path": {"type": "string"},
            "status": {"type": "integer"},
            "duration_ms": {"type": ["number", "null"]},
            "request_size": {"type": "integer"},
            "response_size": {"type": "integer"},
            "content_type": {"type": "string"},
            "source": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "error": {"type": ["string", "null"]},
        },
    },
    "FlowPage": {
        "type": "object",
        "required": [
            "session",
            "total",
            "total_estimated",
            "limit",
            "offset",
            "order",
            "next",
            "prev",
            "flows",
        ],
        "properties": {
            "session": {"type": "string"},
            "total": {
                "type": "integer",
                "description": "matching flows, counted for the first page and carried on",
            },
            "total_estimated": {
                "type": "boolean",
                "description": "true: total is estimated (a URL substring or an expression "
                "over a large session)",
            },
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "order": {"type": "string", "enum": ["asc", "desc"]},
            "next": {"type": ["string", "null"], "description": "cursor of the following page"},
            "prev": {"type": ["string", "null"], "description": "cursor of the page before"},
            "flows": {"type": "array", "items": _ref("FlowSummary")},
        },
    },
    "FlowRecord": {
        "description": "a flow in mitmtape JSON (the JSON export's element)",
        "type": "object",
        "required": ["id", "session_id", "started_at", "request", "tags", "metadata"],
    },
    "Artifact": {
        "type": "object",
        "required": ["id", "type", "title", "file_name", "media_type", "size", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "session_id": {"type": ["string", "null"]},
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "file_name": {"type": "string"},
            "media_type": {"type": "string"},
            "size": {"type": "integer"},
            "metadata": {"type": "object"},
            "created_at": {"type": "string"},
        },
    },
    "ArtifactContent": {
        "allOf": [
            _ref("Artifact"),
            {
                "type": "object",
                "required": ["content", "content_encoding"],
                "properties": {
                    "content": {"type": "string"},
                    "content_encoding": {"enum": ["utf-8", "base64"]},
                },
            },
        ]
    },
    "ImportResult": {
        "type": "object",
        "required": ["session", "imported", "skipped", "errors"],
        "properties": {
            "session": {"type": "string"},
            "session_name": {"type": "string"},
            "imported": {"type": "integer"},
            "skipped": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Comparison": {
        "description": "two sessions' endpoint differences; with deep=true also `responses`: "
        "rows of {endpoint, change, what, a, b}",
        "type": "object",
    },
}


def _operation(summary: str, responses: Schema, **extra: Any) -> Schema:
    return {"summary": summary, "responses": {**responses, **COMMON_RESPONSES}, **extra}


def _paths() -> Schema:
    not_found = _error("unknown session")
    bad = _error("a parameter that does not parse")
    upload_schema: Schema = {"type": "string", "format": "binary"}
    upload_body: Schema = {
        "required": True,
        "content": {
            "application/json": {"schema": {}},
            "application/octet-stream": {"schema": upload_schema},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": upload_schema},
                }
            },
        },
    }
    return {
        "/api/v1/sessions": {
            "get": _operation(
                "List sessions",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["sessions"],
                            "properties": {"sessions": {"type": "array", "items": _ref("Session")}},
                        },
                        "sessions, oldest first",
                    )
                },
            ),
            "post": _operation(
                "Create a session",
                {
                    "201": _json(_ref("Session"), "the new session"),
                    "400": bad,
                    "409": _error("a session of that name exists"),
                },
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewSession")}},
                },
            ),
        },
        "/api/v1/sessions/{id}": {
            "get": _operation(
                "One session",
                {"200": _json(_ref("Session"), "the session"), "404": not_found},
                parameters=[SESSION_REF],
            ),
            "patch": _operation(
                "Rename a session and/or make it the active one",
                {
                    "200": _json(_ref("Session"), "the session as it is now"),
                    "400": bad,
                    "404": not_found,
                    "409": _error("a session of that name exists"),
                },
                parameters=[SESSION_REF],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SessionChange")}},
                },
            ),
            "delete": _operation(
                "Delete a session and its flows (another one becomes active if it was)",
                {"200": _json(_ref("Session"), "what was deleted"), "404": not_found},
                parameters=[SESSION_REF],
            ),
        },
        "/api/v1/sessions/{id}/flows": {
            "get": _operation(
                "Flow summaries of a session, a page at a time by cursor (oldest first, or the "
                "newest first with order=desc)",
                {"200": _json(_ref("FlowPage"), "one page"), "400": bad, "404": not_found},
                parameters=[
                    SESSION_REF,
                    *PAGE,
                    _query(
                        "order",
                        {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
                        "oldest first (asc) or newest first (desc); a cursor keeps its own",
                    ),
                    _query(
                        "cursor",
                        {"type": "string"},
                        "the next or prev of an earlier page (not with offset)",
                    ),
                    *FLOW_FILTERS,
                    _query(
                        "filter",
                        {"type": "string"},
                        "mitmproxy filter expression (reads the whole session)",
                    ),
                ],
            )
        },
        "/api/v1/sessions/{id}/export/{format}": {
            "get": _operation(
                "Export a session (report is the HTML report)",
                {
                    "200": _file(
                        ["application/json", "text/csv; charset=utf-8", "text/html; charset=utf-8"],
                        "the export file",
                        DOWNLOAD_HEADERS | REDACTED_HEADERS,
                    ),
                    "400": bad,
                    "404": not_found,
                },
                parameters=[
                    SESSION_REF,
                    _path("format", "export format", list(FORMAT_NAMES)),
                    *FLOW_FILTERS,
                    _query("filter", {"type": "string"}, "mitmproxy filter expression"),
                    _query(
                        "redact",
                        {"type": "string", "enum": ["false", "true", "strict"]},
                        "mask secrets (headers, cookies, query parameters, body fields, JWT "
                        "signatures); strict also masks JWTs whole",
                    ),
                ],
            )
        },
        "/api/v1/sessions/{id}/import/{format}": {
            "post": _operation(
                "Import a HAR or mitmtape JSON file: raw body or multipart field file",
                {
                    "200": _json(_ref("ImportResult"), "what came in"),
                    "400": _error("empty, malformed or the wrong format"),
                    "404": not_found,
                    "413": _error("over the import limit (256 MB)"),
                },
                parameters=[SESSION_REF, _path("format", "import format", list(IMPORTERS))],
                requestBody=upload_body,
            )
        },
        "/api/v1/import": {
            "post": _operation(
                "Import a .har or .json file, format sniffed: into a new session "
                "'{name} (imported)', deleted again if the import fails, or into `session`",
                {
                    "200": _json(_ref("ImportResult"), "what came in, and where"),
                    "400": _error("empty, malformed, not .har/.json, or a bad parameter"),
                    "404": not_found,
                    "413": _error("over the import limit (256 MB)"),
                },
                parameters=[
                    _query("name", {"type": "string"}, "the file's name (else the multipart one)"),
                    _query("session", {"type": "string"}, "import into this session instead"),
                ],
                requestBody=upload_body,
            )
        },
        "/api/v1/sessions/{id}/report": {
            "get": _operation(
                "The workspace's report.md: Markdown, or HTML for Accept: text/html",
                {
                    "200": _file(
                        ["text/markdown; charset=utf-8", "text/html; charset=utf-8"],
                        "the report",
                    ),
                    "404": _error("unknown session or no report"),
                    "413": _error("report.md is over 10 MB"),
                },
                parameters=[SESSION_REF],
            )
        },
        "/api/v1/sessions/{id}/poc": {
            "get": _operation(
                "The workspace's poc/ files as a zip",
                {
                    "200": _file(["application/zip"], "the zip", DOWNLOAD_HEADERS),
                    "404": _error("unknown session or no poc/ files"),
                },
                parameters=[SESSION_REF],
            )
        },
        "/api/v1/flows/{id}": {
            "get": _operation(
                "One flow in mitmtape JSON",
                {"200": _json(_ref("FlowRecord"), "the flow"), "404": _error("unknown flow")},
                parameters=[_path("id", "flow id")],
            )
        },
        "/api/v1/flows/{id}/code/{target}": {
            "get": _operation(
                "One flow as code (markdown masks credential headers always)",
                {
                    "200": _file(["text/plain; charset=utf-8"], "the snippet", REDACTED_HEADERS),
                    "400": bad,
                    "404": _error("unknown flow"),
                },
                parameters=[
                    _path("id", "flow id"),
                    _path("target", "language", list(TARGETS)),
                    _query(
                        "redact",
                        {"type": "string", "enum": ["false", "true", "strict"], "default": "false"},
                        "mask secrets as exports do (headers, cookies, query parameters, body "
                        "fields, JWT signatures); strict also masks JWTs whole",
                    ),
                ],
            )
        },
        "/api/v1/artifacts": {
            "get": _operation(
                "Kept exports, newest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["artifacts", "limit", "offset"],
                            "properties": {
                                "artifacts": {"type": "array", "items": _ref("Artifact")},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                        "one page",
                    ),
                    "400": bad,
                },
                parameters=[
                    _query("type", {"type": "string"}, "only this type (session_export)"),
                    _query("session_id", {"type": "string"}, "only this session"),
                    *PAGE,
                ],
            )
        },
        "/api/v1/artifacts/{id}": {
            "get": _operation(
                "An artifact with its content as a string",
                {
                    "200": _json(_ref("ArtifactContent"), "the artifact"),
                    "404": _error("unknown artifact"),
                },
                parameters=[_path("id", "artifact id")],
            ),
            "delete": _operation(
                "Delete an artifact",
                {
                    "200": _json(_ref("Artifact"), "what was deleted"),
                    "404": _error("unknown artifact"),
                },
                parameters=[_path("id", "artifact id")],
            ),
        },
        "/api/v1/artifacts/{id}/download": {
            "get": _operation(
                "Download an artifact's file",
                {
                    "200": _file(
                        [
                            "application/json",
                            "text/csv; charset=utf-8",
                            "text/html; charset=utf-8",
                            "text/markdown; charset=utf-8",
                        ],
                        "the file",
                        DOWNLOAD_HEADERS,
                    ),
                    "404": _error("unknown artifact"),
                },
                parameters=[_path("id", "artifact id")],
            )
        },
        "/api/v1/compare": {
            "get": _operation(
                "Compare two sessions: JSON, or text for Accept: text/plain",
                {
                    "200": {
                        "description": "the differences",
                        "content": {
                            "application/json": {"schema": _ref("Comparison")},
                            "text/plain; charset=utf-8": {"schema": {"type": "string"}},
                        },
                    },
                    "400": bad,
                    "404": not_found,
                },
                parameters=[
                    _query("a", {"type": "string", "minLength": 1}, "session A", required=True),
                    _query("b", {"type": "string", "minLength": 1}, "session B", required=True),
                    _query(
                        "deep",
                        {"type": "boolean", "default": False},
                        "also compare inside the responses: JSON fields, headers, content type "
                        "and body size (adds `responses`)",
                    ),
                ],
            )
        },
        "/api/v1/events": {
            "get": _operation(
                "Server-Sent Events: flow.created, artifact.created; a comment every 15 s",
                {"200": _file(["text/event-stream; charset=utf-8"], "the stream")},
            )
        },
        "/api/v1/openapi.json": {
            "get": _operation("This document", {"200": _json({"type": "object"}, "OpenAPI 3.1")})
        },
    }


def openapi_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mitmtape API",
            "version": __version__,
            "description": "Sessions of HTTP traffic recorded with mitmproxy: export, import, "
            "artifacts, workspace files and compare. Loopback only; every request needs "
            "Authorization: Bearer TOKEN (the web page at / uses a sign-in cookie instead).",
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
