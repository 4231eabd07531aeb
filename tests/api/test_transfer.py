"""Export downloads and import uploads: bytes, types, file names, limits and refusals."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mitmtape.api.server import ApiServer
from mitmtape.capture.record import compile_expression
from mitmtape.export.pipeline import ARTIFACTS_KEEP, ExportOptions, export_session
from mitmtape.importers import IMPORT_FILE_LIMIT
from mitmtape.model import Session
from mitmtape.store import FlowFilter, Store
from tests.api.conftest import AUTH, SAMPLES, TEST_UPLOAD_LIMIT, TOKEN
from tests.waiting import wait_until

CHROMIUM_HAR = SAMPLES / "chromium-playwright.har"
MITMPROXY_HAR = SAMPLES / "mitmproxy-savehar.har"
STAMP = r"\d{4}-\d{2}-\d{2}-\d{6}"
# The server removes a request's temporary files just after its answer, within this time.
CLEANUP_SECONDS = 5


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's temporary files go here, so a test can see that none are left."""
    folder = tmp_path / "server-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def left_behind(folder: Path) -> list[Path]:
    """What stays in `folder` once the server has cleaned up after its answer (or a few
    seconds passed: then the test names what is left)."""
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not any(folder.iterdir()), CLEANUP_SECONDS, "the clean-up")
    return list(folder.iterdir())


def comparable(format_name: str, data: bytes) -> bytes:
    """Export bytes without what differs between two runs: the report's time, Postman's id."""
    if format_name == "postman":
        document = json.loads(data)
        document["info"].pop("_postman_id")
        return json.dumps(document).encode()
    if format_name == "html":
        return re.sub(rb"<time [^>]*>[^<]*</time>", b"<time/>", data)
    return data


EXPORTS = [
    ("har", "har", "application/json", ".har"),
    ("json", "json", "application/json", ".json"),
    ("csv", "csv", "text/csv; charset=utf-8", ".csv"),
    ("postman", "postman", "application/json", "_postman_collection.json"),
    ("report", "html", "text/html; charset=utf-8", ".html"),
    ("html", "html", "text/html; charset=utf-8", ".html"),
]


@pytest.mark.parametrize(("name", "format_name", "media_type", "suffix"), EXPORTS)
def test_an_export_is_the_pipelines_file_with_type_and_name(
    client: httpx.Client,
    store: Store,
    session: Session,
    tmp_path: Path,
    own_tempdir: Path,
    name: str,
    format_name: str,
    media_type: str,
    suffix: str,
) -> None:
    response = client.get(f"/api/v1/sessions/{session.id}/export/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media_type
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="API_Tests_{STAMP}{re.escape(suffix)}"', disposition
    )
    assert int(response.headers["Content-Length"]) == len(response.content)
    expected = export_session(store, session.id, format_name, tmp_path, ExportOptions())
    assert comparable(format_name, response.content) == comparable(
        format_name, expected.path.read_bytes()
    )
    artifact = store.get_artifact(response.headers["X-Mitmtape-Artifact"])
    assert artifact.content == response.content
    assert left_behind(own_tempdir) == []


def test_export_filters_and_redaction_match_the_pipeline(
    client: httpx.Client, store: Store, session: Session, tmp_path: Path
) -> None:
    params = {
        "filter": "~d api.example.com",
        "status_min": "200",
        "status_max": "299",
        "redact": "true",
    }
    response = client.get(f"/api/v1/sessions/{session.id}/export/json", params=params)
    options = ExportOptions(
        flow_filter=FlowFilter(status_min=200, status_max=299),
        matches=compile_expression("~d api.example.com"),
        redact=True,
    )
    expected = export_session(store, session.id, "json", tmp_path, options).path.read_bytes()
    assert response.content == expected
    exported = json.loads(expected)
    assert [flow["response"]["status"] for flow in exported] == [200, 200, 201]
    assert ["set-cookie", "a=***"] in exported[0]["response"]["headers"]
    params = {"method": "post", "url": "/upload"}
    response = client.get(f"/api/v1/sessions/{session.id}/export/csv", params=params)
    assert response.text.count("\r\n") == 2  # the header and the one POST to /upload


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnLXNlY3JldA"


@pytest.mark.parametrize(("mode", "kept"), [("true", "eyJzdWIiOiJhbGljZSJ9"), ("strict", None)])
def test_a_redacted_export_says_what_it_masked_in_a_header(
    client: httpx.Client, store: Store, make_record, mode: str, kept: str | None
) -> None:
    session = store.create_session("jwt")
    record = make_record(url=f"https://api.example.com/cb?access_token=at-s3&id={JWT}")
    record.session_id = session.id
    store.add_flows([record])
    response = client.get(f"/api/v1/sessions/{session.id}/export/har", params={"redact": mode})
    assert response.headers["X-Mitmtape-Redacted"] == (
        "headers=0, cookies=0, query_parameters=1, body_fields=0, jwts=1, bodies=0"
    )
    assert "c2lnLXNlY3JldA" not in response.text and "at-s3" not in response.text
    assert (kept in response.text) if kept else ("eyJzdWIi" not in response.text)
    plain = client.get(f"/api/v1/sessions/{session.id}/export/har")
    assert "X-Mitmtape-Redacted" not in plain.headers and JWT in plain.text


def test_a_non_ascii_session_name_gets_an_rfc_6266_file_name(
    client: httpx.Client, store: Store
) -> None:
    session = store.create_session("Café ✓")
    response = client.get(f"/api/v1/sessions/{session.id}/export/har")
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf"attachment; filename=\"Caf____{STAMP}\.har\"; "
        rf"filename\*=UTF-8''Caf%C3%A9_%E2%9C%93_{STAMP}\.har",
        disposition,
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("nope/export/har", {}, 404, "nope"),
        ("{id}/export/xml", {}, 400, "unknown export format"),
        ("{id}/export/har", {"filter": "~q ((("}, 400, "filter expression"),
        ("{id}/export/har", {"filter": "(" * 1_000 + "~q )" + ")" * 999}, 400, "levels deep"),
        ("{id}/export/har", {"redact": "maybe"}, 400, "redact"),
        ("{id}/export/har", {"status_min": "ok"}, 400, "status_min"),
    ],
)
def test_a_bad_export_request_is_refused(
    client: httpx.Client, session: Session, path: str, params: dict, status: int, words: str
) -> None:
    response = client.get(f"/api/v1/sessions/{path.format(id=session.id)}", params=params)
    assert response.status_code == status
    assert words in response.json()["error"]


def import_url(session: Session, format_name: str) -> str:
    return f"/api/v1/sessions/{session.id}/import/{format_name}"


def test_api_downloads_keep_the_servers_number_of_artifacts(
    server: ApiServer, client: httpx.Client, store: Store, session: Session
) -> None:
    assert server.artifacts_keep == ARTIFACTS_KEEP
    server.artifacts_keep = 2
    kept = [
        client.get(f"/api/v1/sessions/{session.id}/export/csv").headers["X-Mitmtape-Artifact"]
        for _ in range(3)
    ]
    listed = store.list_artifacts(session_id=session.id)
    assert [artifact.id for artifact in listed] == kept[:0:-1]


def test_a_raw_har_body_is_imported(
    client: httpx.Client, store: Store, session: Session, own_tempdir: Path
) -> None:
    response = client.post(import_url(session, "har"), content=CHROMIUM_HAR.read_bytes())
    assert response.status_code == 200
    assert response.json() == {"session": session.id, "imported": 9, "skipped": 0, "errors": []}
    assert store.count_flows(session.id) == 6 + 9
    assert left_behind(own_tempdir) == []


def test_a_multipart_har_upload_is_imported(
    client: httpx.Client, store: Store, session: Session, own_tempdir: Path
) -> None:
    with MITMPROXY_HAR.open("rb") as upload:
        files = {"file": ("capture.har", upload, "application/octet-stream")}
        response = client.post(import_url(session, "har"), files=files, data={"note": "x"})
    assert response.status_code == 200
    assert response.json()["imported"] == 10
    imported = [r for b in store.iter_flow_batches(session.id) for r in b if r.source == "import"]
    assert {r.metadata["import_source"] for r in imported} == {"har"}
    assert left_behind(own_tempdir) == []


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_a_json_export_imports_back(
    client: httpx.Client, store: Store, session: Session, multipart: bool
) -> None:
    exported = client.get(f"/api/v1/sessions/{session.id}/export/json").content
    target = store.create_session("copy")
    if multipart:
        response = client.post(import_url(target, "json"), files={"file": ("f.json", exported)})
    else:
        response = client.post(
            import_url(target, "json"),
            content=exported,
            headers={"Content-Type": "application/json"},
        )
    assert response.json() == {"session": target.id, "imported": 6, "skipped": 0, "errors": []}


def test_bad_entries_are_skipped_and_reported(client: httpx.Client, session: Session) -> None:
    body = json.dumps(
        [
            {"request": {"method": "GET"}},
            {"request": {"method": "GET", "url": "https://a.example/"}},
        ]
    )
    response = client.post(import_url(session, "json"), content=body)
    assert response.status_code == 200
    result = response.json()
    assert (result["imported"], result["skipped"]) == (1, 1)
    assert result["errors"][0].startswith("entry 0:")


@pytest.mark.parametrize(
    ("format_name", "body", "words"),
    [
        ("har", b"", "empty"),
        ("json", b"", "empty"),
        ("json", CHROMIUM_HAR.read_bytes(), "looks like a HAR file"),
        ("har", b"[]", ""),
        ("json", b'{"a": 1}', "expected an array"),
        ("har", b"not json at all", ""),
    ],
)
def test_an_empty_or_wrong_format_body_is_400(
    client: httpx.Client, session: Session, format_name: str, body: bytes, words: str
) -> None:
    response = client.post(import_url(session, format_name), content=body)
    assert response.status_code == 400
    assert words in response.json()["error"]


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("multipart/form-data", b"--x\r\n", "boundary"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--x--\r\n',
            "no field 'file'",
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\n[]',
            "closing boundary",
        ),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; "
            b'name="file"; filename="e.har"\r\n\r\n\r\n--x--\r\n',
            "empty",
        ),
    ],
)
def test_a_malformed_multipart_upload_is_400(
    client: httpx.Client, session: Session, content_type: str, body: bytes, words: str
) -> None:
    response = client.post(
        import_url(session, "har"), content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_an_import_into_an_unknown_session_is_404(client: httpx.Client) -> None:
    response = client.post("/api/v1/sessions/nope/import/har", content=CHROMIUM_HAR.read_bytes())
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_an_unknown_import_format_is_400(client: httpx.Client, session: Session) -> None:
    response = client.post(import_url(session, "csv"), content=b"a,b\r\n")
    assert response.status_code == 400
    assert "unknown import format" in response.json()["error"]


def chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    """`total` bytes of a JSON array padded with spaces, made as they are sent."""
    block = b" " * size
    yield b"["
    left = total - 2
    while left > 0:
        yield block[: min(size, left)]
        left -= size
    yield b"]"


def test_an_upload_of_exactly_the_limit_is_taken(client: httpx.Client, session: Session) -> None:
    response = client.post(import_url(session, "json"), content=b"".join(chunks(TEST_UPLOAD_LIMIT)))
    assert response.status_code == 200
    assert response.json()["imported"] == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_upload_one_byte_over_the_limit_is_413(
    client: httpx.Client, session: Session, own_tempdir: Path, declared: bool
) -> None:
    size = TEST_UPLOAD_LIMIT + 1
    headers = {"Content-Length": str(size)} if declared else {}
    response = client.post(import_url(session, "json"), content=chunks(size), headers=headers)
    assert response.status_code == 413
    assert f"{TEST_UPLOAD_LIMIT:,} bytes" in response.json()["error"]
    assert left_behind(own_tempdir) == []


def test_a_multipart_file_one_byte_over_the_limit_is_413(
    client: httpx.Client, session: Session
) -> None:
    files = {"file": ("big.json", b"".join(chunks(TEST_UPLOAD_LIMIT + 1)))}
    response = client.post(import_url(session, "json"), files=files)
    assert response.status_code == 413


def test_the_real_limit_refuses_256_mb_and_one_byte(store: Store, session: Session) -> None:
    """The constant itself, streamed without Content-Length (nothing holds the body)."""
    api = ApiServer(store, TOKEN)
    api.start()
    try:
        assert api.upload_limit == IMPORT_FILE_LIMIT == 256 * 1024 * 1024
        started = time.monotonic()
        with httpx.Client(base_url=api.url, headers=AUTH, timeout=60) as http:
            response = http.post(import_url(session, "json"), content=chunks(IMPORT_FILE_LIMIT + 1))
        assert response.status_code == 413
        assert time.monotonic() - started < 30
    finally:
        api.stop()


def chromium_entries() -> int:
    return len(json.loads(CHROMIUM_HAR.read_text("utf-8"))["log"]["entries"])


def test_import_makes_a_named_session_with_every_entry(client, store: Store) -> None:
    answer = client.post(
        "/api/v1/import", params={"name": "capture.har"}, content=CHROMIUM_HAR.read_bytes()
    )
    again = client.post(
        "/api/v1/import",
        files={"file": ("capture.har", CHROMIUM_HAR.read_bytes(), "application/json")},
    )

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["session_name"] == "capture.har (imported)"
    assert result["imported"] == chromium_entries()
    session = store.get_session(result["session"])
    assert session.description == "Imported from capture.har"
    assert session.flow_count == chromium_entries()
    assert again.json()["session_name"] == "capture.har (imported 2)"


@pytest.mark.parametrize(
    ("name", "body"),
    [("notes.txt", CHROMIUM_HAR.read_bytes()), ("broken.har", b'{"log": {"entries": [{"request"')],
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
        "/api/v1/import",
        params={"name": "x.json", "session": target.id},
        content=CHROMIUM_HAR.read_bytes(),
    )
    assert answer.json()["session"] == target.id
    assert store.get_session(target.id).flow_count == chromium_entries()
    missing = client.post("/api/v1/import", params={"session": "nope"}, content=b"{}")
    assert missing.status_code == 404
