"""Real HAR files made on this machine by real tools (scripts/make_sample_captures.py)."""

from __future__ import annotations

import gzip
import json

import pytest

from mitmtape.importers import import_new_session
from mitmtape.model import header_value

ITEMS = {"items": [{"id": 1, "name": "tape"}, {"id": 2, "name": "reel"}]}
PAGE_FLOWS = [
    ("GET", "/"),
    ("GET", "/pixel.png"),
    ("GET", "/api/items"),
    ("POST", "/api/echo"),
    ("GET", "/redirect"),
    ("GET", "/api/items"),
    ("GET", "/gzip"),
    ("POST", "/form"),
    ("GET", "/ws"),
]
CAPTURES = {
    "chromium-playwright.har": PAGE_FLOWS,
    "mitmproxy-savehar.har": [*PAGE_FLOWS, ("GET", "/closed")],
}


@pytest.fixture(params=sorted(CAPTURES))
def capture(request, store, samples):
    session, result = import_new_session(store, samples / request.param)
    flows = [r for batch in store.iter_flow_batches(session.id) for r in batch]
    return (
        request.param,
        result,
        {(r.request.method, r.request.path, r.request.url): r for r in flows},
        flows,
    )


def by_path(flows, method, path, query=""):
    (found,) = [
        r
        for r in flows
        if (r.request.method, r.request.path) == (method, path)
        and r.request.url.endswith(path + query)
    ]
    return found


def test_every_entry_is_imported(capture):
    name, result, _, flows = capture
    assert (result.imported, result.skipped, result.errors) == (len(CAPTURES[name]), 0, [])
    assert sorted((r.request.method, r.request.path) for r in flows) == sorted(CAPTURES[name])


def test_bodies_come_back(capture):
    _, _, _, flows = capture
    page = by_path(flows, "GET", "/")
    assert b"<title>loading</title>" in page.response.body.data
    pixel = by_path(flows, "GET", "/pixel.png")
    assert pixel.response.body.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(by_path(flows, "GET", "/api/items").response.body.data) == ITEMS
    echo = by_path(flows, "POST", "/api/echo")
    assert json.loads(echo.request.body.data) == {"hello": "world"}
    assert json.loads(echo.response.body.data) == {"hello": "world"}
    assert by_path(flows, "POST", "/form").request.body.data == b"a=1&b=two+words"


def test_redirect_and_its_target(capture):
    _, _, _, flows = capture
    redirect = by_path(flows, "GET", "/redirect")
    assert redirect.response.status == 302
    assert header_value(redirect.response.headers, "location") == "/api/items?from=redirect"
    target = by_path(flows, "GET", "/api/items", "?from=redirect")
    assert json.loads(target.response.body.data) == ITEMS


def test_gzip_response_is_stored_as_on_the_wire(capture):
    _, _, _, flows = capture
    response = by_path(flows, "GET", "/gzip").response
    assert header_value(response.headers, "content-encoding") == "gzip"
    assert gzip.decompress(response.body.data) == b"compressed hello " * 20


def test_websocket_messages_come_back(capture):
    _, _, _, flows = capture
    ws = by_path(flows, "GET", "/ws")
    assert ws.response.status == 101
    assert [(m.from_client, m.type, m.content) for m in ws.websocket] == [
        (True, "text", b"hello tape"),
        (False, "text", b"hello tape"),
        (True, "binary", b"\x00\x01\x02\xff"),
        (False, "binary", b"\x00\x01\x02\xff"),
    ]
    assert all(1.7e9 < m.timestamp < 1e11 for m in ws.websocket)  # seconds, not ms


def test_timings_and_times_are_plausible(capture):
    _, _, _, flows = capture
    starts = sorted(r.started_at for r in flows)
    assert (starts[-1] - starts[0]).total_seconds() < 60
    assert all(r.duration_ms is None or r.duration_ms >= 0 for r in flows)


def test_failed_flow_of_mitmproxy_keeps_its_error(store, samples):
    session, _ = import_new_session(store, samples / "mitmproxy-savehar.har")
    flows = [r for batch in store.iter_flow_batches(session.id) for r in batch]
    closed = by_path(flows, "GET", "/closed")
    assert closed.response is None
    assert "Connect call failed" in closed.error
