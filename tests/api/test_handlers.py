"""Sessions, flows, code, artifacts, workspace files and compare over HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from mitmtape.api.base import PAGE_LIMIT_MAX
from mitmtape.codegen import TARGETS, generate
from mitmtape.compare import compare_sessions
from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.model import Session
from mitmtape.store import Store
from mitmtape.workspace import WORKSPACE_FILE_MAX_BYTES, Workspace
from tests.api.conftest import AUTH, TOKEN
from tests.conftest import RecordFactory
from tests.e2e.mitmdump import venv_tool

POC_TOTAL_BYTES = 300 * 1024 * 1024
SERVER_MEMORY_BUDGET = 100 * 1024 * 1024


def test_sessions_are_listed(client: httpx.Client, session: Session) -> None:
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    listed = {item["name"]: item for item in response.json()["sessions"]}
    assert listed["API Tests"] == session.to_json()


def test_a_session_is_found_by_id_or_by_name(client: httpx.Client, session: Session) -> None:
    assert client.get(f"/api/v1/sessions/{session.id}").json()["flow_count"] == 6
    assert client.get(f"/api/v1/sessions/{quote(session.name)}").json()["id"] == session.id


def test_an_unknown_session_is_404(client: httpx.Client) -> None:
    response = client.get("/api/v1/sessions/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_a_session_is_created(client: httpx.Client, store: Store) -> None:
    response = client.post("/api/v1/sessions", json={"name": "Mobile QA", "description": "phone"})
    assert response.status_code == 201
    created = response.json()
    assert response.headers["Location"] == f"/api/v1/sessions/{created['id']}"
    assert store.get_session("Mobile QA").description == "phone"
    assert created["flow_count"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"description": "x"}',
        b'{"name": "  "}',
        b'{"name": 3}',
        b'{"name": "ok", "description": 5}',
        b"[" * 100_000,
    ],
)
def test_a_bad_new_session_is_400(client: httpx.Client, body: bytes) -> None:
    response = client.post("/api/v1/sessions", content=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_a_session_name_in_use_is_409(client: httpx.Client, session: Session) -> None:
    response = client.post("/api/v1/sessions", json={"name": "API Tests"})
    assert response.status_code == 409
    assert "already exists" in response.json()["error"]


def test_flows_are_listed_oldest_first_with_paging(
    client: httpx.Client, session: Session, store: Store
) -> None:
    everything = [r.summary() for batch in store.iter_flow_batches(session.id) for r in batch]
    page = client.get(
        f"/api/v1/sessions/{session.id}/flows", params={"limit": 2, "offset": 1}
    ).json()
    assert page["total"] == 6
    assert (page["limit"], page["offset"]) == (2, 1)
    assert page["flows"] == everything[1:3]
    assert client.get(f"/api/v1/sessions/{session.id}/flows").json()["flows"] == everything


def test_flows_page_by_cursor_in_both_orders(
    client: httpx.Client, session: Session, store: Store
) -> None:
    everything = [r.id for batch in store.iter_flow_batches(session.id) for r in batch]
    path = f"/api/v1/sessions/{session.id}/flows"
    newest = client.get(path, params={"limit": 4, "order": "desc"}).json()
    assert [f["id"] for f in newest["flows"]] == everything[::-1][:4]
    assert (newest["order"], newest["total"], newest["total_estimated"]) == ("desc", 6, False)
    assert newest["prev"] is None
    older = client.get(path, params={"limit": 4, "cursor": newest["next"]}).json()
    assert [f["id"] for f in older["flows"]] == everything[::-1][4:]
    assert older["next"] is None and older["order"] == "desc"
    back = client.get(path, params={"limit": 4, "cursor": older["prev"]}).json()
    assert [f["id"] for f in back["flows"]] == everything[::-1][:4]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"order": "newest"}, "order must be asc or desc, not 'newest'"),
        ({"cursor": "not-a-cursor"}, "the cursor is not one this server gave out"),
        ({"cursor": "A" * 513}, "the cursor is not one this server gave out"),
        ({"offset": 1, "cursor": "CURSOR"}, "give either a cursor or an offset, not both"),
    ],
)
def test_a_bad_order_or_cursor_is_400_in_one_sentence(
    client: httpx.Client, session: Session, params: dict, message: str
) -> None:
    path = f"/api/v1/sessions/{session.id}/flows"
    if params.get("cursor") == "CURSOR":
        params = {**params, "cursor": client.get(path, params={"limit": 1}).json()["next"]}
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize("limit", [PAGE_LIMIT_MAX, PAGE_LIMIT_MAX + 1])
def test_the_page_limit_is_taken_at_its_edge_with_a_cursor(
    client: httpx.Client, session: Session, limit: int
) -> None:
    path = f"/api/v1/sessions/{session.id}/flows"
    cursor = client.get(path, params={"limit": 1}).json()["next"]
    response = client.get(path, params={"limit": limit, "cursor": cursor})
    assert response.status_code == (200 if limit == PAGE_LIMIT_MAX else 400)


def test_flows_are_filtered_like_exports(client: httpx.Client, session: Session) -> None:
    params = {"method": "get", "status_min": 400, "status_max": 599}
    page = client.get(f"/api/v1/sessions/{session.id}/flows", params=params).json()
    assert [flow["status"] for flow in page["flows"]] == [404, 500]
    assert page["total"] == 2
    page = client.get(
        f"/api/v1/sessions/{session.id}/flows", params={"url": "other.example"}
    ).json()
    assert [flow["host"] for flow in page["flows"]] == ["other.example.org"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "x"},
        {"limit": -1},
        {"limit": 1001},
        {"offset": -5},
        {"status_min": "2xx"},
        {"status_max": 10**30},
    ],
)
def test_bad_flow_parameters_are_400(client: httpx.Client, session: Session, params: dict) -> None:
    response = client.get(f"/api/v1/sessions/{session.id}/flows", params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["error"]


@pytest.mark.parametrize(
    ("expression", "words"),
    [("(" * 1_000 + "~q )" + ")" * 999, "levels deep"), ("~q " * 2_000, "characters long")],
)
def test_a_filter_past_the_guard_is_a_400_with_a_json_error(
    client: httpx.Client, session: Session, expression: str, words: str
) -> None:
    response = client.get(f"/api/v1/sessions/{session.id}/flows", params={"filter": expression})
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_flows_of_an_unknown_session_are_404(client: httpx.Client) -> None:
    assert client.get("/api/v1/sessions/nope/flows").status_code == 404


def test_a_flow_comes_as_mitmtape_json(
    client: httpx.Client, session: Session, store: Store
) -> None:
    flow_id = store.list_sessions and next(store.iter_flow_batches(session.id))[-1].id
    response = client.get(f"/api/v1/flows/{flow_id}")
    assert response.status_code == 200
    assert response.json() == store.get_flow(flow_id).to_json()
    assert client.get("/api/v1/flows/nope").status_code == 404


@pytest.mark.parametrize("target", list(TARGETS))
def test_a_flow_comes_as_code(
    client: httpx.Client, session: Session, store: Store, target: str
) -> None:
    record = next(store.iter_flow_batches(session.id))[1]
    response = client.get(f"/api/v1/flows/{record.id}/code/{target}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == generate(target, record) + "\n"


def test_code_for_an_unknown_target_or_flow_is_refused(
    client: httpx.Client, session: Session, store: Store
) -> None:
    record = next(store.iter_flow_batches(session.id))[0]
    response = client.get(f"/api/v1/flows/{record.id}/code/cobol")
    assert response.status_code == 400
    assert "cobol" in response.json()["error"]
    assert client.get("/api/v1/flows/nope/code/curl").status_code == 404


def make_artifacts(store: Store, session: Session, tmp_path: Path) -> list[str]:
    """One kept export per format, oldest first; returns their ids."""
    ids = []
    for format_name in ("har", "csv", "html"):
        result = export_session(
            store, session.id, format_name, tmp_path / format_name, ExportOptions()
        )
        assert result.artifact is not None
        ids.append(result.artifact.id)
    return ids


def test_artifacts_are_listed_filtered_and_paged(
    client: httpx.Client, store: Store, session: Session, tmp_path: Path
) -> None:
    ids = make_artifacts(store, session, tmp_path)
    listed = client.get("/api/v1/artifacts").json()
    assert [a["id"] for a in listed["artifacts"]] == ids[::-1]
    assert listed["artifacts"][0] == store.get_artifact(ids[-1]).to_json()
    page = client.get("/api/v1/artifacts", params={"limit": 1, "offset": 1}).json()
    assert [a["id"] for a in page["artifacts"]] == [ids[1]]
    params = {"type": "session_export", "session_id": session.id}
    assert len(client.get("/api/v1/artifacts", params=params).json()["artifacts"]) == 3
    assert client.get("/api/v1/artifacts", params={"type": "other"}).json()["artifacts"] == []
    assert client.get("/api/v1/artifacts", params={"session_id": "x"}).json()["artifacts"] == []
    assert client.get("/api/v1/artifacts", params={"limit": "many"}).status_code == 400


def test_an_artifact_comes_with_its_content_as_a_string(
    client: httpx.Client, store: Store, session: Session, tmp_path: Path
) -> None:
    artifact = store.get_artifact(make_artifacts(store, session, tmp_path)[1])
    body = client.get(f"/api/v1/artifacts/{artifact.id}").json()
    assert body["content"] == (artifact.content or b"").decode("utf-8")
    assert body["content_encoding"] == "utf-8"
    assert body["title"] == "API Tests — CSV Export"
    assert client.get("/api/v1/artifacts/nope").status_code == 404


@pytest.mark.parametrize(
    ("index", "media_type"),
    [(0, "application/json"), (1, "text/csv; charset=utf-8"), (2, "text/html; charset=utf-8")],
)
def test_an_artifact_downloads_with_type_and_file_name(
    client: httpx.Client,
    store: Store,
    session: Session,
    tmp_path: Path,
    index: int,
    media_type: str,
) -> None:
    artifact = store.get_artifact(make_artifacts(store, session, tmp_path)[index])
    response = client.get(f"/api/v1/artifacts/{artifact.id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="{artifact.file_name}"'
    assert response.content == artifact.content


def test_a_missing_artifact_download_is_404(client: httpx.Client) -> None:
    assert client.get("/api/v1/artifacts/nope/download").status_code == 404


def test_an_artifact_is_deleted(
    client: httpx.Client, store: Store, session: Session, tmp_path: Path
) -> None:
    artifact_id = make_artifacts(store, session, tmp_path)[0]
    response = client.delete(f"/api/v1/artifacts/{artifact_id}")
    assert response.status_code == 200
    assert response.json()["id"] == artifact_id
    assert client.get(f"/api/v1/artifacts/{artifact_id}").status_code == 404
    assert client.delete(f"/api/v1/artifacts/{artifact_id}").status_code == 404


REPORT = "# Findings\n\nThe `/login` form leaks **tokens**.\n\n<script>alert(1)</script>\n"


def write_report(store: Store, session: Session, text: str = REPORT) -> Path:
    path = Workspace(store).folder(session.id) / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_report_is_markdown_by_default(
    client: httpx.Client, store: Store, session: Session
) -> None:
    write_report(store, session)
    response = client.get(f"/api/v1/sessions/{session.id}/report")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="API_Tests_report.md"'
    assert response.text == REPORT


def test_the_report_is_a_safe_page_for_text_html(
    client: httpx.Client, store: Store, session: Session
) -> None:
    write_report(store, session)
    accept = "text/html,application/xhtml+xml,*/*;q=0.8"
    response = client.get(f"/api/v1/sessions/{session.id}/report", headers={"Accept": accept})
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "content-disposition" not in response.headers
    assert "<h1>Findings</h1>" in response.text
    assert "<code>/login</code>" in response.text and "<strong>tokens</strong>" in response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_a_missing_report_or_session_is_404(client: httpx.Client, session: Session) -> None:
    response = client.get(f"/api/v1/sessions/{session.id}/report")
    assert response.status_code == 404
    assert "report.md" in response.json()["error"]
    assert client.get("/api/v1/sessions/nope/report").status_code == 404


def test_a_report_over_10_mb_is_413(client: httpx.Client, store: Store, session: Session) -> None:
    write_report(store, session, "x" * (10 * 1024 * 1024 + 1))
    response = client.get(f"/api/v1/sessions/{session.id}/report")
    assert response.status_code == 413
    assert "report.md" in response.json()["error"]


def test_poc_files_come_as_a_zip(client: httpx.Client, store: Store, session: Session) -> None:
    poc = Workspace(store).folder(session.id) / "poc"
    poc.mkdir()
    (poc / "exploit.py").write_text("print('poc')\n")
    (poc / "notes.txt").write_text("notes\n")
    response = client.get(f"/api/v1/sessions/{session.id}/poc")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="API_Tests_poc.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["exploit.py", "notes.txt"]


def memory(pid: int, field: str) -> int:
    """A figure of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_300_mb_of_poc_files_stream_with_the_server_under_100_mb(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = Store(db)
    session = store.create_session("Big PoC")
    poc = Workspace(store).folder(session.id) / "poc"
    store.close()
    poc.mkdir()
    content = os.urandom(WORKSPACE_FILE_MAX_BYTES)  # incompressible: the zip is 300 MB too
    names = [f"part-{n:02}.bin" for n in range(POC_TOTAL_BYTES // WORKSPACE_FILE_MAX_BYTES)]
    for name in names:
        (poc / name).write_bytes(content)
    server = subprocess.Popen(
        [venv_tool("mitmtape"), "--db", str(db), "serve", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = server.stdout.readline().split()[3]
        before = memory(server.pid, "VmRSS")
        download = tmp_path / "poc.zip"
        with (
            httpx.stream(
                "GET", f"{base}/sessions/{session.id}/poc", headers=AUTH, timeout=60
            ) as response,
            download.open("wb") as handle,
        ):
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                handle.write(chunk)
        peak = memory(server.pid, "VmHWM")
    finally:
        server.kill()
        server.wait(10)
    assert download.stat().st_size > POC_TOTAL_BYTES
    # The whole server (about 55 MB before the download) stays under 100 MB.
    assert peak < SERVER_MEMORY_BUDGET, f"peak {peak:,} bytes, {before:,} before the download"
    with zipfile.ZipFile(download) as archive:
        assert archive.namelist() == names
        assert archive.testzip() is None  # every entry's CRC checks out
        assert archive.read(names[-1]) == content


def test_missing_poc_files_are_404(client: httpx.Client, session: Session) -> None:
    assert client.get(f"/api/v1/sessions/{session.id}/poc").status_code == 404
    assert client.get("/api/v1/sessions/nope/poc").status_code == 404


def test_compare_is_json_or_text(client: httpx.Client, store: Store, session: Session) -> None:
    other = store.active_session()
    params = {"a": other.id, "b": session.name}
    response = client.get("/api/v1/compare", params=params)
    assert response.status_code == 200
    assert response.json() == compare_sessions(store, other.id, session.id).to_json()
    text = client.get("/api/v1/compare", params=params, headers={"Accept": "text/plain"})
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.text == compare_sessions(store, other.id, session.id).to_text()


@pytest.mark.parametrize(
    ("params", "status"), [({}, 400), ({"a": "x"}, 400), ({"a": "nope", "b": "nope2"}, 404)]
)
def test_compare_refuses_missing_or_unknown_sessions(
    client: httpx.Client, session: Session, params: dict, status: int
) -> None:
    response = client.get("/api/v1/compare", params=params)
    assert response.status_code == status
    assert response.json()["error"]


def test_the_openapi_document_is_served(client: httpx.Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/sessions/{id}/export/{format}" in document["paths"]


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


def test_compare_deep_adds_what_changed_inside_the_responses(
    client: httpx.Client, store: Store, session: Session, make_record: RecordFactory
) -> None:
    changed = store.create_session("changed")
    store.add_flows([make_record(changed.id, response_body=b'{"ok": "yes"}')])
    params = {"a": session.id, "b": changed.id, "deep": "true"}
    response = client.get("/api/v1/compare", params=params)
    assert response.status_code == 200
    rows = response.json()["responses"]
    assert rows == compare_sessions(store, session.id, changed.id, deep=True).responses
    assert {"endpoint": "GET api.example.com/v1/items", "change": "field_type_changed",
            "what": "ok", "a": "boolean", "b": "string"} in rows  # fmt: skip
    assert (
        "responses" not in client.get("/api/v1/compare", params={**params, "deep": "false"}).json()
    )
    bad = client.get("/api/v1/compare", params={**params, "deep": "maybe"})
    assert (
        bad.status_code == 400 and bad.json()["error"] == "deep must be true or false, got 'maybe'"
    )
