"""A flow record as a row of the `flows` table and back: the list columns, and the record's own
JSON without body bytes (bodies live in their own table, read only when asked for).

The writer runs `record_row` for every flow it commits and exports run `record_of` for every
flow they read: both are on the hot path of capture and export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mitmtape.model import Body, FlowRecord, media_type

# Built once: `json.dumps` with options makes an encoder per call, and a record (plain data
# from a capture or a parsed document) has no cycles to look for. Tags keep json's default
# separators, as they have always been stored.
_encode_record = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode
_encode_tags = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def record_row(record: FlowRecord) -> tuple[Any, ...]:
    """The indexed columns of a record, and its JSON form without body bytes.

    A body that was not kept has no bytes to keep apart, so its object (reason and size) stays
    in the document, where listings read it.
    """
    document = record.to_json(bodies=False)
    request, response = record.request, record.response
    if request.body.omitted is not None:
        document["request"]["body"] = request.body.to_json()
    if response is not None and response.body.omitted is not None:
        document["response"]["body"] = response.body.to_json()
    return (
        record.id,
        record.session_id,
        document["started_at"],
        record.duration_ms,
        record.source,
        request.method.upper(),
        request.url,
        request.host.lower(),
        request.path,
        record.status,
        request.body.size,
        0 if response is None else response.body.size,
        "" if response is None else media_type(response.content_type),
        _encode_tags(record.tags) if record.tags else "[]",
        record.error,
        _encode_record(document),
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
        bodies.extend((record.id, part, body.data) for part, body in bodies_of(record) if body.data)
    return rows, bodies


def bodies_of(record: FlowRecord) -> list[tuple[str, Body]]:
    parts = [("request", record.request.body)]
    if record.response is not None:
        parts.append(("response", record.response.body))
    return parts


def record_of(row: tuple[Any, ...], bodies: dict[tuple[str, str], bytes]) -> FlowRecord:
    """A record from its row; bodies from `bodies`, or only their sizes when not read."""
    record = FlowRecord.from_json(json.loads(row[15]))
    request_size, response_size = row[10], row[11]
    request = record.request
    request.body = Body(bodies.get((record.id, "request"), b""), request_size, request.body.omitted)
    if (response := record.response) is not None:
        response.body = Body(
            bodies.get((record.id, "response"), b""), response_size, response.body.omitted
        )
    return record
