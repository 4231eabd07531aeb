"""A live ApiServer on a free loopback port over a real SQLite store, and an httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mitmtape.api.server import ApiServer
from mitmtape.model import FlowRecord, Session
from mitmtape.store import Store

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"
# The live server's import limit in most tests; one test runs the real 256 MB.
TEST_UPLOAD_LIMIT = 1024 * 1024


@pytest.fixture
def server(store: Store) -> Iterator[ApiServer]:
    api = ApiServer(store, TOKEN, upload_limit=TEST_UPLOAD_LIMIT)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        yield http


@pytest.fixture
def session(store: Store, make_record: Any, rich_record: FlowRecord) -> Session:
    """`API Tests` with six flows of different methods and statuses, the rich one among them."""
    created = store.create_session("API Tests", "for the API")
    records = [
        make_record(created.id),
        make_record(created.id, method="POST", url="https://api.example.com/v1/items", status=201),
        make_record(created.id, url="https://api.example.com/v1/missing", status=404),
        make_record(created.id, url="https://other.example.org/boom", status=500),
        make_record(created.id, url="https://api.example.com/v1/slow", status=None),
    ]
    rich_record.session_id = created.id
    store.add_flows([*records, rich_record])
    return store.get_session(created.id)
