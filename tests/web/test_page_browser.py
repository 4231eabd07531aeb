"""The page in a real headless Chromium against a live server: drag-and-drop import, export
downloads equal to the CLI's, and traffic that tries to inject script running nothing."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mitmtape.export.formats import FORMATS
from mitmtape.importers import import_file
from mitmtape.store import Store
from mitmtape.web.routes import StaticHandler
from tests.api.conftest import SAMPLES
from tests.e2e.mitmdump import venv_tool
from tests.export.report.test_in_browser import PAYLOADS
from tests.pages import RecordedPage
from tests.web.conftest import FAVICON, workspace_probes

HAR = SAMPLES / "chromium-playwright.har"
# Files are dropped the way a browser does it: a DataTransfer holding a File, in drag events.
DRAG = """([type, name, text]) => {
    const transfer = new DataTransfer();
    if (name !== null) transfer.items.add(new File([text], name, {type: "application/json"}));
    document.body.dispatchEvent(
        new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
}"""


def drop(opened: RecordedPage, name: str, text: str) -> None:
    page = opened.page
    page.evaluate(DRAG, ["dragenter", name, text])
    page.wait_for_selector("#drop-overlay", state="visible")
    assert "Drop to import session" in page.text_content("#drop-overlay")
    assert "Supports .har, .json and .mitm files" in page.text_content("#drop-overlay")
    page.evaluate(DRAG, ["drop", name, text])
    page.wait_for_selector("#drop-overlay", state="hidden")


def test_a_second_visit_asks_the_server_for_none_of_the_page_files(
    web, store: Store, make_record, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's files are kept for good under their fingerprint: opening the page again
    costs no round trip per module (revalidating each, level after level of imports, was most
    of the time to a session's first rows)."""
    asked: list[str] = []
    serve = StaticHandler.get

    async def counted(handler: StaticHandler, fingerprint: str, path: str, *rest: Any) -> None:
        asked.append(path)
        await serve(handler, fingerprint, path, *rest)

    monkeypatch.setattr(StaticHandler, "get", counted)
    session = store.create_session("Cached")
    store.add_flows([make_record(session.id, url="https://cached.example/first")])
    opened = web()
    assert {"main.js", "flows.js", "format.js", "app.css"} <= set(asked)  # the first visit

    asked.clear()
    opened.goto(f"/?session={session.id}")
    opened.page.wait_for_selector("#flows tbody tr")

    assert asked == []
    assert "/first" in opened.page.text_content("#flows tbody")
    assert opened.problems_besides(FAVICON, *workspace_probes(session.id)) == []


def test_a_session_links_its_workspace_files_asking_for_each_once(
    web, server, store: Store
) -> None:
    session = store.create_session("Workspace")
    folder = server.workspace.folder(session.id)
    (folder / "report.md").write_text("# Findings\n", encoding="utf-8")
    (folder / "poc").mkdir()
    (folder / "poc" / "exploit.py").write_text("print('poc')\n", encoding="utf-8")
    opened = web()

    opened.goto(f"/?session={session.id}")
    opened.page.wait_for_selector("#session-links a:text('PoC zip')")

    links = opened.page.locator("#session-links a")
    assert links.all_text_contents() == ["Report", "report.md", "PoC zip"]
    assert links.nth(1).get_attribute("download") == ""
    report, poc = (opened.origin + probe for probe in workspace_probes(session.id))
    assert links.nth(0).get_attribute("href") == report.removeprefix(opened.origin)
    assert opened.requests.count(report) == 1
    assert opened.requests.count(poc) == 1
    # A probe drops the answer's body once it has the status: the browser calls that aborted.
    assert opened.problems_besides(FAVICON, *workspace_probes(session.id)) == []


def test_dropping_a_har_file_makes_a_session_with_every_entry(web, store: Store) -> None:
    opened = web()
    entries = len(json.loads(HAR.read_text("utf-8"))["log"]["entries"])

    drop(opened, "capture.har", HAR.read_text("utf-8"))
    toast = opened.page.wait_for_selector(".toast.success")

    assert f"Imported {entries} flows" in toast.text_content()
    session = store.get_session("capture.har (imported)")
    assert session.flow_count == entries
    toast.query_selector("button:text('Compare')").click()
    opened.page.wait_for_selector("#compare-result h2")
    assert f"b={session.id}" in opened.page.url
    assert opened.problems_besides(FAVICON) == []


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("notes.txt", "hello", "only .har, .json and .mitm files"),
        ("broken.har", '{"log": {"entries": [{"request"', "Import failed"),
    ],
    ids=["txt", "broken-har"],
)
def test_a_refused_drop_shows_an_error_and_leaves_no_session(
    web, store: Store, name: str, text: str, message: str
) -> None:
    opened = web()
    before = [session.id for session in store.list_sessions()]

    drop(opened, name, text)
    error = opened.page.wait_for_selector(".toast.error")

    assert message in error.text_content()
    assert [session.id for session in store.list_sessions()] == before


def cli_export(db: str, session: str, format_name: str, folder: Path, *options: str) -> Path:
    command = [venv_tool("mitmtape"), "--db", str(db), "export", session, "--format", format_name]
    subprocess.run([*command, "-o", str(folder), *options], check=True, capture_output=True)
    (written,) = folder.iterdir()
    return written


# A time stamp; the export's own (HAR creator comment, report header) differs between runs.
# Seconds are optional: the report's header names the minute, which can turn between two exports.
TIME_STAMP = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
EXPORT_STAMPS_MAX = 2
# Postman's collection id is made fresh for each export, as Postman wants.
POSTMAN_ID = re.compile(rb'"_postman_id": "[0-9a-f-]{36}"')


def without_stamps(data: bytes) -> bytes:
    return POSTMAN_ID.sub(b"", TIME_STAMP.sub(b"", data))


def differing_stamps(a: bytes, b: bytes) -> Counter[bytes]:
    return Counter(TIME_STAMP.findall(a)) - Counter(TIME_STAMP.findall(b))


def test_each_download_equals_the_cli_export(
    web, store: Store, tmp_path: Path, make_record
) -> None:
    session = store.create_session("Checkout")
    import_file(store, HAR, session.id, "har")
    secret = [("authorization", "Bearer secret-token"), ("host", "api.example.com")]
    store.add_flows([make_record(session.id, request_headers=secret)])
    opened = web()
    page = opened.page
    opened.goto(f"/?session={session.id}&method=GET&url=api")
    page.wait_for_selector("#flows tbody tr")
    formats = page.eval_on_selector_all("#export option", "options => options.map(o => o.value)")
    assert formats == list(FORMATS)
    for format_name in formats:
        page.select_option("#export select", format_name)
        page.check("#export input[name=redact]")  # choosing a format sets its default
        with page.expect_download() as waiting:
            page.click("#download")
        served = Path(waiting.value.path()).read_bytes()
        folder = tmp_path / format_name
        folder.mkdir()
        options = ("--method", "GET", "--url", "api", "--redact")
        written = cli_export(store.location, session.id, format_name, folder, *options)
        data = written.read_bytes()

        assert waiting.value.suggested_filename.startswith("Checkout_")
        assert waiting.value.suggested_filename.endswith(FORMATS[format_name].suffix)
        assert without_stamps(served) == without_stamps(data), format_name
        assert sum(differing_stamps(served, data).values()) <= EXPORT_STAMPS_MAX
        assert b"secret-token" not in served


def test_the_export_dialog_ticks_redaction_for_shared_files_only(
    web, store: Store, make_record
) -> None:
    session = store.create_session("Sharing")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnLXNlY3JldA"
    store.add_flows([make_record(session.id, request_headers=[("x-debug", jwt)])])
    opened = web()
    page = opened.page
    opened.goto(f"/?session={session.id}")
    page.wait_for_selector("#flows tbody tr")
    redact = page.locator("#export input[name=redact]")
    ticked = {}
    for format_name in FORMATS:
        page.select_option("#export select", format_name)
        ticked[format_name] = redact.is_checked()
    assert ticked == {name: fmt.shared for name, fmt in FORMATS.items()}
    assert {name for name, on in ticked.items() if on} >= {"har", "postman", "html"}
    assert not ticked["json"]
    page.select_option("#export select", "har")
    assert page.get_attribute("#download", "href").endswith("/export/har?redact=true")
    page.check("#export input[name=strict]")
    with page.expect_download() as waiting:
        page.click("#download")
    served = Path(waiting.value.path()).read_text()
    assert "c2lnLXNlY3JldA" not in served and "eyJzdWIi" not in served
    assert json.loads(served)["log"]["comment"] == "redacted by mitmtape: 1 JWT"


def planted(session_id: str, make_record: Any) -> list[Any]:
    """One flow per payload: in its URL, method, headers, bodies, tag and error."""
    return [
        make_record(
            session_id,
            method=payload if index % 5 == 0 else "GET",
            url=f"https://evil.example/{index}/{payload}?q={payload}",
            status=None if index % 3 == 0 else 200,
            request_body=payload.encode(),
            response_body=json.dumps({"x": payload}).encode(),
            request_headers=[(f"x-{index}", payload), ("referer", payload)],
            response_headers=[("content-type", "application/json"), ("x-note", payload)],
            error=payload,
            tags=[payload],
        )
        for index, payload in enumerate(PAYLOADS)
    ]


# Opens each row's detail in turn, as a click does, and reads the error it shows.
OPEN_EVERY_DETAIL = """async () => {
    const shown = [];
    for (const row of document.querySelectorAll("#flows tbody tr")) {
        row.click();
        await new Promise((done) => {
            const detail = document.getElementById("flow-detail");
            const check = () => detail.dataset.flow === row.dataset.id
                ? done() : requestAnimationFrame(check);
            check();
        });
        shown.push(document.querySelector("#detail-body .error").textContent);
        document.getElementById("flow-detail").close();
    }
    return shown;
}"""


def test_injection_payloads_run_nothing_in_any_view(web, store: Store, make_record) -> None:
    evil = store.create_session(PAYLOADS[0], PAYLOADS[4])
    store.add_flows(planted(evil.id, make_record))
    store.create_session(PAYLOADS[1])
    opened = web()
    page = opened.page

    page.wait_for_selector("#sessions tbody tr:nth-child(3)")
    names = page.eval_on_selector_all(
        "#sessions tbody td:first-child a", "a => a.map(x => x.textContent)"
    )
    opened.goto(f"/?session={evil.id}")
    page.wait_for_selector(f"#flows tbody tr:nth-child({len(PAYLOADS)})")
    errors = page.evaluate(OPEN_EVERY_DETAIL)
    opened.goto(f"/?view=compare&a={evil.id}&b={store.active_session().id}")
    page.wait_for_selector("#compare-result h2")

    assert PAYLOADS[0] in names and PAYLOADS[1] in names
    assert errors == PAYLOADS
    assert page.evaluate("() => window.__pwned") is None
    assert opened.dialogs == []
    assert opened.foreign_requests() == []
    assert opened.problems_besides(FAVICON, *workspace_probes(evil.id)) == []
