"""Postman Collection v2.1.0 export: every flow as a request that Postman or newman can send again.

Postman computes `Host`, `Content-Length` and `Connection` itself, so those are left out. Its raw
body mode holds text only, so a body that is not valid UTF-8 is left out too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, TextIO

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.jsonstream import dump, write_json_array
from mitmtape.model import FlowRecord, Request, media_type

SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
LEFT_OUT_HEADERS = frozenset({"host", "content-length", "connection"})


def is_json_type(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or kind.endswith("+json")


def raw_body(request: Request) -> dict[str, Any] | None:
    """Postman's raw body, or None for an empty or binary body."""
    try:
        text = request.body.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    body: dict[str, Any] = {"mode": "raw", "raw": text}
    if is_json_type(request.content_type):
        body["options"] = {"raw": {"language": "json"}}
    return body


def item_of(record: FlowRecord) -> dict[str, Any]:
    request = record.request
    headers = request.headers
    postman_request: dict[str, Any] = {
        "method": request.method,
        "header": [
            {"key": name, "value": value}
            for name, value in headers
            if name.lower() not in LEFT_OUT_HEADERS
        ],
        "url": request.url,
    }
    body = raw_body(request)
    if body is not None:
        postman_request["body"] = body
    return {
        "name": f"{request.method} {request.path}",
        "request": postman_request,
        "response": [],
    }


def write(out: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    info = {
        "_postman_id": str(uuid.uuid4()),
        "name": context.session.name,
        "schema": SCHEMA_URL,
    }
    out.write(f'{{\n  "info": {dump(info, 1)},\n  "item": ')
    items = (item_of(record) for record in records)
    write_json_array(out, items, depth=1, compact=True)
    out.write("\n}\n")


FORMAT = ExportFormat(
    name="postman",
    label="Postman",
    suffix="_postman_collection.json",
    media_type="application/json",
    needs_bodies=True,
    write=write,
    shared=True,
)
