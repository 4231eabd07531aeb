"""A flow record as a row of the `flows` table and back: the list columns, and in the `record`
column only what they do not already hold, as a JSON array (bodies live in their own table, read
only when asked for).

The writer writes a row for every flow it commits and exports run `record_of` for every flow
they read: both are on the hot path of capture and export. A record's whole JSON object,
repeating the columns with a key for every value, made each row twice as long to write, to
encode and to read; rows written that way (before `RECORD_LAYOUT`) still read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from mitmtape.model import (
    Body,
    FlowRecord,
    Headers,
    Omitted,
    Request,
    Response,
    Timings,
    WebSocketMessage,
    format_time,
    headers_from_json,
    media_type,
    parse_time,
)
from mitmtape.store.errors import StoreError

# Built once: `json.dumps` with options makes an encoder per call, and a record (plain data
# from a capture or a parsed document) has no cycles to look for. Tags keep json's default
# separators, as they have always been stored.
_encode_record = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode
_encode_tags = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

# The first value of a `record` column array: which layout of `StoredRecord` it holds.
RECORD_LAYOUT = 1
NO_TAGS = "[]"


class StoredResponse(NamedTuple):
    """A response as the `record` column keeps it (its body's bytes and size live apart)."""

    status: int
    reason: str
    http_version: str
    headers: Headers
    body_omitted: Omitted | None
    trailers: Headers | None


class StoredRecord(NamedTuple):
    """What the `record` column keeps: a record's values that no column holds, plus the
    request's method and host as they were (their columns are normalised for filters).

    A tuple, so JSON writes it as an array: no key repeated in every row. Headers are written
    as they come (pairs as tuples or lists both make JSON arrays).
    """

    layout: int
    method: str
    host: str
    port: int
    http_version: str
    headers: Headers
    body_omitted: Omitted | None
    trailers: Headers | None
    response: StoredResponse | None
    # The six phases in `TIMING_PHASES` order, or None.
    timings: tuple[int, ...] | list[int] | None
    metadata: dict[str, Any]
    client: dict[str, Any] | None
    server: dict[str, Any] | None
    websocket: list[dict[str, Any]] | None


def flow_row(
    flow_id: str,
    session_id: str,
    started_at: str,
    duration_ms: float | None,
    source: str,
    url: str,
    path: str,
    request_size: int,
    response_size: int,
    content_type: str,
    tags: list[str],
    error: str | None,
    stored: StoredRecord,
) -> tuple[Any, ...]:
    """A `flows` row (FLOW_COLUMNS order) from the values its columns hold and the rest."""
    response = stored.response
    return (
        flow_id,
        session_id,
        started_at,
        duration_ms,
        source,
        stored.method.upper(),
        url,
        stored.host.lower(),
        path,
        0 if response is None else response.status,
        request_size,
        response_size,
        content_type,
        _encode_tags(tags) if tags else NO_TAGS,
        error,
        _encode_record(stored),
    )


def record_row(record: FlowRecord) -> tuple[Any, ...]:
    """The row of a record (its body bytes go in body rows, `rows_of`)."""
    request, response, timings = record.request, record.response, record.timings
    return flow_row(
        record.id,
        record.session_id,
        format_time(record.started_at),
        record.duration_ms,
        record.source,
        request.url,
        request.path,
        request.body.size,
        0 if response is None else response.body.size,
        "" if response is None else media_type(response.content_type),
        record.tags,
        record.error,
        StoredRecord(
            RECORD_LAYOUT,
            request.method,
            request.host,
            request.port,
            request.http_version,
            request.headers,
            request.body.omitted,
            request.trailers,
            None
            if response is None
            else StoredResponse(
                response.status,
                response.reason,
                response.http_version,
                response.headers,
                response.body.omitted,
                response.trailers,
            ),
            None
            if timings is None
            else (
                timings.dns,
                timings.connect,
                timings.ssl,
                timings.send,
                timings.wait,
                timings.receive,
            ),
            record.metadata,
            record.client,
            record.server,
            None if record.websocket is None else [m.to_json() for m in record.websocket],
        ),
    )


# A batch as the store writes it: flow rows (FLOW_COLUMNS order) and the bodies kept beside
# them as (flow id, part, bytes). Plain tuples, so another process takes them cheaply (an
# import's writer child).
BodyRow = tuple[str, str, bytes]
RowBatch = tuple[list[tuple[Any, ...]], list[BodyRow]]


def rows_of(records: Iterable[FlowRecord]) -> RowBatch:
    """The rows and body rows of records; an empty body has no row."""
    rows: list[tuple[Any, ...]] = []
    bodies: list[BodyRow] = []
    for record in records:
        rows.append(record_row(record))
        bodies.extend(body_rows(record))
    return rows, bodies


# A committed flow's list columns as a writer reports them: its row's first 15 values, but the
# request's method and host as recorded (their columns hold them normalised for filters).
Listing = tuple[Any, ...]


def listing_of(row: tuple[Any, ...], method: str, host: str) -> Listing:
    return (*row[:5], method, row[6], host, *row[8:15])


def summary_of(listing: Listing) -> dict[str, Any]:
    """What `FlowRecord.summary()` says of the flow, with its session first."""
    (flow_id, session_id, started_at, duration_ms, source, method, url, host, path, status,
     request_size, response_size, content_type, tags, error) = listing  # fmt: skip
    return {
        "session_id": session_id,
        "id": flow_id,
        "started_at": started_at,
        "method": method,
        "url": url,
        "host": host,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "request_size": request_size,
        "response_size": response_size,
        "content_type": content_type,
        "source": source,
        "tags": [] if tags == NO_TAGS else json.loads(tags),
        "error": error,
    }


def body_rows(record: FlowRecord) -> list[BodyRow]:
    """The rows of a record's bodies kept apart; an empty body has none."""
    rows = []
    if record.request.body.data:
        rows.append((record.id, "request", record.request.body.data))
    if record.response is not None and record.response.body.data:
        rows.append((record.id, "response", record.response.body.data))
    return rows


def record_of(row: tuple[Any, ...], bodies: dict[tuple[str, str], bytes]) -> FlowRecord:
    """A record from its row; bodies from `bodies`, or only their sizes when not read."""
    document = json.loads(row[15])
    if type(document) is dict:
        return _record_of_document(row, document, bodies)
    if type(document) is not list or not document or document[0] != RECORD_LAYOUT:
        raise StoreError(f"flow {row[0]} was stored by a newer mitmtape; upgrade to read it")
    stored = StoredRecord._make(document)
    flow_id = row[0]
    request = Request(
        stored.method,
        row[6],
        stored.host,
        stored.port,
        row[8],
        stored.http_version,
        headers_from_json(stored.headers, "request"),
        Body(bodies.get((flow_id, "request"), b""), row[10], stored.body_omitted),
        _trailers(stored.trailers, "request"),
    )
    return FlowRecord(
        request,
        flow_id,
        row[1],
        parse_time(row[2]),
        row[3],
        row[4],
        _response(stored.response, bodies.get((flow_id, "response"), b""), row[11]),
        None if stored.timings is None else Timings(*stored.timings),
        row[14],
        [] if row[13] == NO_TAGS else json.loads(row[13]),
        stored.metadata,
        stored.client,
        stored.server,
        None
        if stored.websocket is None
        else [WebSocketMessage.from_json(message) for message in stored.websocket],
    )


def _trailers(value: Headers | None, where: str) -> Headers | None:
    return None if value is None else headers_from_json(value, f"{where}.trailers")


def _response(value: list[Any] | None, data: bytes, size: int) -> Response | None:
    if value is None:
        return None
    stored = StoredResponse._make(value)
    return Response(
        stored.status,
        stored.reason,
        stored.http_version,
        headers_from_json(stored.headers, "response"),
        Body(data, size, stored.body_omitted),
        _trailers(stored.trailers, "response"),
    )


def _record_of_document(
    row: tuple[Any, ...], document: dict[str, Any], bodies: dict[tuple[str, str], bytes]
) -> FlowRecord:
    """A row written before `RECORD_LAYOUT`: the record's whole JSON object, without bodies."""
    record = FlowRecord.from_json(document)
    request_size, response_size = row[10], row[11]
    request = record.request
    request.body = Body(bodies.get((record.id, "request"), b""), request_size, request.body.omitted)
    if (response := record.response) is not None:
        response.body = Body(
            bodies.get((record.id, "response"), b""), response_size, response.body.omitted
        )
    return record
