"""The API calls the page needs: import into a new session, rename, make active, delete,
and flows filtered by a mitmproxy expression."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from mitmtape.api.server import ApiServer
from mitmtape.store import Store
from tests.api.conftest import SAMPLES
from tests.web.conftest import TOKEN

HAR = SAMPLES / "chromium-playwright.har"


def har_entries() -> int:
    return len(json.loads(HAR.read_text("utf-8"))["log"]["entries"])


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as http:
        yield http


def test_import_makes_a_named_session_with_every_entry(client, store: Store) -> None:
    answer = client.post("/api/v1/import", params={"name": "capture.har"}, content=HAR.read_bytes())
    again = client.post(
        "/api/v1/import", files={"file": ("capture.har", HAR.read_bytes(), "application/json")}
    )

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["session_name"] == "capture.har (imported)"
    assert result["imported"] == har_entries()
    session = store.get_session(result["session"])
    assert session.description == "Imported from capture.har"
    assert session.flow_count == har_entries()
    assert again.json()["session_name"] == "capture.har (imported 2)"


@pytest.mark.parametrize(
    ("name", "body"),
    [("notes.txt", HAR.read_bytes()), ("broken.har", b'{"log": {"entries": [{"request"')],
    ids=["wrong-extension", "broken-har"],
)
def test_a_failed_import_leaves_no_session(client, store: Store, name: str, body: bytes) -> None:
    before = [session.id for session in store.list_sessions()]
    answer = client.post("/api/v1/import", params={"name": name}, content=body)
    assert answer.status_code == 400
    assert name in answer.json()["error"]
    assert [session.id for session in store.list_sessions()] == before


def test_import_into_an_open_session_sniffs_the_format(client, store: Store) -> None:
    target = store.create_session("target")
    answer = client.post(
        "/api/v1/import", params={"name": "x.json", "session": target.id}, content=HAR.read_bytes()
    )
    assert answer.json()["session"] == target.id
    assert store.get_session(target.id).flow_count == har_entries()
    missing = client.post("/api/v1/import", params={"session": "nope"}, content=b"{}")
    assert missing.status_code == 404


def test_sessions_are_renamed_activated_and_deleted(client, store: Store) -> None:
    first, second = store.create_session("one"), store.create_session("two")
    path = f"/api/v1/sessions/{second.id}"

    renamed = client.patch(path, json={"name": "deux"})
    taken = client.patch(path, json={"name": "one"})
    activated = client.patch(path, json={"active": True})
    refused = [client.patch(path, json=body) for body in ({}, {"active": False}, {"name": " "})]
    deleted = client.delete(path)

    assert renamed.json()["name"] == "deux"
    assert taken.status_code == 409
    assert activated.json()["active"] is True
    assert [answer.status_code for answer in refused] == [400, 400, 400]
    assert deleted.json()["id"] == second.id
    assert client.delete(path).status_code == 404
    assert store.find_session(second.id) is None
    assert store.active_session().id != second.id
    assert store.find_session(first.id) is not None


def test_flows_take_a_mitmproxy_expression(client, store: Store, make_record) -> None:
    session = store.create_session("mixed")
    methods = ["GET", "POST", "GET", "POST", "DELETE"]
    store.add_flows(make_record(session.id, method=method) for method in methods)
    path = f"/api/v1/sessions/{session.id}/flows"
    posts = client.get(path, params={"filter": "~m POST", "limit": 1}).json()
    bad = client.get(path, params={"filter": "~nonsense ("})

    assert posts["total"] == 2
    assert [flow["method"] for flow in posts["flows"]] == ["POST"]
    second = client.get(path, params={"filter": "~m POST", "offset": 1}).json()
    assert [flow["method"] for flow in second["flows"]] == ["POST"]
    assert second["flows"][0]["id"] != posts["flows"][0]["id"]
    assert bad.status_code == 400
