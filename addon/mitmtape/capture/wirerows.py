"""A captured flow straight from its wire snapshot to the row the store writes, in the writer.

Every captured flow passes here. Making a `FlowRecord` first (an object per message, body and
header, then a JSON object of them all) cost the writer more CPU than the database did. The
values come from the helpers the record path uses (`request_view`, `phases`, `body_parts`,
`headers_of`...), and a test holds each row equal to `record_row` of the flow's record.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mitmtape.capture.record import reason_text, request_view, snapshot_from_wire, wire_text
from mitmtape.capture.snapshot import (
    ServerSnapshot,
    WireSnapshot,
    bare_path,
    body_parts,
    duration_ms,
    headers_of,
    metadata_of,
    peer_of,
    phases,
    server_of,
    websocket_messages,
)
from mitmtape.model import FlowRecord, header_value, media_type, new_id, timestamp_text
from mitmtape.store.rows import (
    RECORD_LAYOUT,
    BodyRow,
    Listing,
    StoredRecord,
    StoredResponse,
    body_rows,
    flow_row,
    listing_of,
    record_row,
)


class PendingFlow(NamedTuple):
    """A flow ready to commit: its row, its body rows, and what its commit reports."""

    row: tuple[Any, ...]
    bodies: list[BodyRow]
    listing: Listing


def pending_of_record(record: FlowRecord) -> PendingFlow:
    row = record_row(record)
    return PendingFlow(
        row, body_rows(record), listing_of(row, record.request.method, record.request.host)
    )


def pending_of_wire(session_id: str, wire: WireSnapshot) -> PendingFlow:
    """The row of a captured flow, as `record_row(snapshot_from_wire(wire).to_record(...))`
    would make it, without the record."""
    request, response, server_wire, client, error, is_replay, comment, marker, websocket = wire
    (_, port, _, _, _, _, version, fields, content, trailers, request_start,
     request_end) = request  # fmt: skip
    method, url, host, path = request_view(request)
    if not host or not port:  # a record fills these in from the URL: let it
        return pending_of_record(snapshot_from_wire(wire).to_record(session_id))
    request_data, request_size, request_omitted = body_parts(content, fields)
    flow_id = new_id()
    bodies = [(flow_id, "request", request_data)] if request_data else []
    stored_response = response_times = None
    response_size, content_type = 0, ""
    if response is not None:
        (response_version, status, reason, response_fields, response_content, response_trailers,
         start, end) = response  # fmt: skip
        response_data, response_size, response_omitted = body_parts(
            response_content, response_fields
        )
        response_headers = headers_of(response_fields)
        stored_response = StoredResponse(
            status,
            reason_text(reason),
            wire_text(response_version),
            response_headers,
            response_omitted,
            None if response_trailers is None else headers_of(response_trailers),
        )
        content_type = media_type(header_value(response_headers, "content-type"))
        response_times = (start, end)
        if response_data:
            bodies.append((flow_id, "response", response_data))
            response_size = len(response_data)
    server = ServerSnapshot._make(server_wire)
    row = flow_row(
        flow_id,
        session_id,
        timestamp_text(request_start or 0),
        duration_ms(request_start, None if response_times is None else response_times[1]),
        "replay" if is_replay else "proxy",
        url,
        bare_path(path),
        len(request_data) or request_size,
        response_size,
        content_type,
        [],
        error,
        StoredRecord(
            RECORD_LAYOUT,
            method,
            host,
            port,
            wire_text(version),
            headers_of(fields),
            request_omitted,
            None if trailers is None else headers_of(trailers),
            stored_response,
            phases(request_start, request_end, response_times, server),
            metadata_of(comment, marker),
            None if not client else peer_of(client),
            server_of(server),
            None if websocket is None else [m.to_json() for m in websocket_messages(websocket)],
        ),
    )
    return PendingFlow(row, bodies, listing_of(row, method, host))
