from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mitmtape.capture.filterguard import MAX_FILTER_DEPTH
from mitmtape.cli import main
from mitmtape.store import Store
from mitmtape.text import count
from tests.conftest import RecordFactory
from tests.waiting import wait_until


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


@pytest.fixture
def filled(tmp_path: Path, make_record: RecordFactory) -> Path:
    path = tmp_path / "tape.db"
    store = Store(path)
    session = store.create_session("API Tests", activate=True)
    store.add_flows(
        [
            make_record(session_id=session.id, url="https://a.test/one", response_body=b"12345"),
            make_record(
                session_id=session.id,
                method="POST",
                url="https://a.test/two",
                status=None,
                error="connection refused",
            ),
        ]
    )
    store.close()
    return path


def test_sessions_json_lists_counts_and_active(filled: Path) -> None:
    code, out = run("--db", str(filled), "sessions", "--json")
    assert code == 0
    sessions = {s["name"]: s for s in json.loads(out)}
    assert sessions["API Tests"]["flow_count"] == 2
    assert sessions["API Tests"]["total_size"] == 5
    assert sessions["API Tests"]["active"] is True


def test_sessions_table_marks_the_active_one(filled: Path) -> None:
    code, out = run("--db", str(filled), "sessions")
    assert code == 0
    line = next(line for line in out.splitlines() if "API Tests" in line)
    assert line.startswith("*") and " 2 " in line


def test_flows_json_by_name_oldest_first(filled: Path) -> None:
    code, out = run("--db", str(filled), "flows", "API Tests", "--json")
    flows = json.loads(out)
    assert code == 0
    assert [(f["method"], f["url"], f["status"]) for f in flows] == [
        ("GET", "https://a.test/one", 200),
        ("POST", "https://a.test/two", 0),
    ]
    assert flows[1]["error"] == "connection refused"
    assert flows[0]["response_size"] == 5


def test_flows_newest_first_up_to_a_limit_across_pages(
    tmp_path: Path, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mitmtape.cli.READ_BATCH", 3)  # several cursor pages
    path = tmp_path / "tape.db"
    store = Store(path)
    session = store.active_session().id
    records = [make_record(session_id=session, url=f"https://a.test/{n}") for n in range(8)]
    store.add_flows(records)
    store.close()
    code, out = run(
        "--db", str(path), "flows", session, "--order", "desc", "--limit", "7", "--json"
    )
    assert code == 0
    assert [f["url"] for f in json.loads(out)] == [r.request.url for r in records[::-1][:7]]
    code, out = run("--db", str(path), "flows", session, "--json")
    assert [f["url"] for f in json.loads(out)] == [r.request.url for r in records]
    code, _ = run("--db", str(path), "flows", session, "--limit", "-1")
    assert code != 0


def test_flows_table_shows_errors(filled: Path) -> None:
    code, out = run("--db", str(filled), "flows", "API Tests")
    assert code == 0 and "(connection refused)" in out and "https://a.test/one" in out


def test_empty_session_prints_an_empty_json_array(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    Store(path).close()
    code, out = run(
        "--db",
        str(path),
        "flows",
        json.loads(run("--db", str(path), "sessions", "--json")[1])[0]["id"],
        "--json",
    )
    assert code == 0 and json.loads(out) == []


def test_unknown_session_fails_with_one_line(filled: Path, capsys) -> None:
    code, _ = run("--db", str(filled), "flows", "missing")
    assert code == 1
    err = capsys.readouterr().err
    assert err == "mitmtape: no session with id or name 'missing'\n"


def test_corrupt_database_fails_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "mitmtape.cli", "--db", str(bad), "sessions"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a usable mitmtape database" in result.stderr
    assert bad.read_bytes() == b"not sqlite" * 100


def test_environment_variable_names_the_database(filled: Path, monkeypatch) -> None:
    monkeypatch.setenv("MITMTAPE_DB", str(filled))
    code, out = run("sessions", "--json")
    assert code == 0 and "API Tests" in out


def test_export_to_a_folder_uses_the_default_name(filled: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    code, _ = run("--db", str(filled), "export", "API Tests", "--format", "har", "-o", str(out))
    assert code == 0
    [written] = list(out.iterdir())
    assert written.name.startswith("API_Tests_") and written.suffix == ".har"
    har = json.loads(written.read_text())
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [
        "https://a.test/one",
        "https://a.test/two",
    ]
    assert "Exported 2 flows to" in capsys.readouterr().err


def test_export_to_stdout_with_filters(filled: Path) -> None:
    code, out = run(
        "--db", str(filled), "export", "API Tests", "--format", "json", "-o", "-",
        "--method", "POST",
    )  # fmt: skip
    assert code == 0
    [flow] = json.loads(out)
    assert flow["request"]["url"] == "https://a.test/two"


def test_export_with_a_mitmproxy_filter_expression(filled: Path) -> None:
    code, out = run(
        "--db", str(filled), "export", "API Tests", "--format", "csv", "-o", "-",
        "--filter", "~u one & ~m GET",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert [row[2] for row in rows[1:]] == ["https://a.test/one"]


def test_bad_filter_expression_is_one_clear_line(filled: Path, capsys) -> None:
    code, _ = run("--db", str(filled), "export", "API Tests", "--format", "csv", "--filter", "~d (")
    assert code == 1
    assert capsys.readouterr().err == "mitmtape: invalid mitmproxy filter expression '~d ('\n"


def test_a_filter_nested_past_the_limit_is_one_line_not_a_traceback(filled: Path, capsys) -> None:
    deep = "(" * 1_000 + "~m GET" + ")" * 1_000  # a RecursionError in mitmproxy's parser
    code, _ = run("--db", str(filled), "export", "API Tests", "--format", "csv", "--filter", deep)
    assert code == 1
    assert capsys.readouterr().err == (
        "mitmtape: filter expression nests 1,000 levels deep (parentheses and `!` together); "
        f"the limit is {MAX_FILTER_DEPTH}\n"
    )


def test_artifacts_list_show_download_delete(filled: Path, tmp_path: Path) -> None:
    target = tmp_path / "first.csv"
    assert (
        run("--db", str(filled), "export", "API Tests", "--format", "csv", "-o", str(target))[0]
        == 0
    )
    code, out = run("--db", str(filled), "artifacts", "list", "--json")
    assert code == 0
    [artifact] = json.loads(out)
    assert artifact["title"] == "API Tests — CSV Export"
    assert artifact["summary"].startswith("2 flows, ")
    code, out = run("--db", str(filled), "artifacts", "show", artifact["id"], "--json")
    assert code == 0
    assert json.loads(out)["metadata"]["flow_count"] == 2
    copy = tmp_path / "copy"
    copy.mkdir()
    assert (
        run("--db", str(filled), "artifacts", "download", artifact["id"], "-o", str(copy))[0] == 0
    )
    assert (copy / "first.csv").read_bytes() == target.read_bytes()
    assert run("--db", str(filled), "artifacts", "delete", artifact["id"])[0] == 0
    assert json.loads(run("--db", str(filled), "artifacts", "list", "--json")[1]) == []


def test_artifacts_keep_bounds_the_kept_exports_also_for_stdout(filled: Path, capsys) -> None:
    export = ("--db", str(filled), "export", "API Tests", "--format", "csv", "-o", "-")
    for _ in range(3):
        assert run(*export, "--artifacts-keep", "2")[0] == 0
    assert len(json.loads(run("--db", str(filled), "artifacts", "list", "--json")[1])) == 2
    capsys.readouterr()
    assert run(*export, "--artifacts-keep", "-1")[0] == 1
    assert capsys.readouterr().err == (
        "mitmtape: the number of artifacts to keep per session must be 0 or more, got -1\n"
    )


def test_unknown_artifact_is_one_clear_line(filled: Path, capsys) -> None:
    assert run("--db", str(filled), "artifacts", "show", "nope")[0] == 1
    assert capsys.readouterr().err == "mitmtape: no artifact with id 'nope'\n"


def test_copy_prints_the_flow_as_code(filled: Path) -> None:
    flows = json.loads(run("--db", str(filled), "flows", "API Tests", "--json")[1])
    code, out = run("--db", str(filled), "copy", flows[0]["id"], "--as", "curl")
    assert code == 0 and out.startswith("curl ") and "https://a.test/one" in out
    code, out = run("--db", str(filled), "copy", flows[1]["id"], "--as", "markdown")
    assert code == 0 and "*Captured by mitmtape at " in out


def test_copy_of_an_unknown_flow_is_one_clear_line(filled: Path, capsys) -> None:
    assert run("--db", str(filled), "copy", "nope", "--as", "curl")[0] == 1
    assert capsys.readouterr().err == "mitmtape: no flow with id 'nope'\n"


SAMPLES = Path(__file__).resolve().parent.parent / "sample_captures"


def test_import_into_a_new_session_prints_json(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    code, out = run("--db", db, "import", str(SAMPLES / "mitmproxy-savehar.har"), "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"session", "imported", "skipped", "errors"}
    assert result["imported"] == 10 and result["skipped"] == 0
    sessions = {s["id"]: s for s in json.loads(run("--db", db, "sessions", "--json")[1])}
    assert sessions[result["session"]]["name"] == "mitmproxy-savehar.har (imported)"


def test_import_into_a_named_session(filled: Path) -> None:
    code, out = run(
        "--db", str(filled), "import", str(SAMPLES / "chromium-playwright.har"),
        "--into", "API Tests", "--format", "har",
    )  # fmt: skip
    assert code == 0 and out.startswith("Imported 9 flows into 'API Tests'")
    assert len(json.loads(run("--db", str(filled), "flows", "API Tests", "--json")[1])) == 11


def test_import_of_a_broken_file_is_one_clear_line(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"request": ')
    code, _ = run("--db", str(tmp_path / "t.db"), "import", str(broken))
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("mitmtape: broken.json: ") and err.count("\n") == 1
    sessions = json.loads(run("--db", str(tmp_path / "t.db"), "sessions", "--json")[1])
    assert len(sessions) == 1  # the new session was removed again


# Enough small entries for seconds of importing (15,000 flows/s measured), so the signal
# lands mid-import; the tests signal as soon as the first batch is committed.
BIG_HAR_ENTRIES = 100_000
IMPORT_COMMIT_SECONDS = 60
# Asked this often, the first commit is seen long before the import is through.
COMMIT_POLL_SECONDS = 0.01
HAR_ENTRY = {
    "startedDateTime": "2024-01-01T00:00:00.000Z",
    "time": 1,
    "request": {"method": "GET", "url": "https://a.test/x", "httpVersion": "HTTP/1.1",
                "headers": [], "queryString": [], "cookies": [], "headersSize": -1,
                "bodySize": 0},
    "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
                 "cookies": [], "content": {"size": 0, "mimeType": "text/plain"},
                 "redirectURL": "", "headersSize": -1, "bodySize": 0},
    "cache": {},
    "timings": {"send": 0, "wait": 1, "receive": 0},
}  # fmt: skip


@pytest.fixture(scope="module")
def big_har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.har"
    entries = ",".join([json.dumps(HAR_ENTRY)] * BIG_HAR_ENTRIES)
    path.write_text(f'{{"log": {{"version": "1.2", "entries": [{entries}]}}}}')
    return path


def stored(db: Path, sql: str) -> int:
    """One number from the database, read as another process would while the import writes."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchone()[0]


def interrupt_import(
    db: Path, har: Path, signum: int, *extra: str, group: bool = False
) -> tuple[int, str]:
    """Run `mitmtape import`, signal it once its first batch is committed; status and stderr.

    With `group`, the signal goes to its whole process group, as a Ctrl-C at a terminal does
    (the import's writer child is starting up just then)."""
    before = stored(db, "SELECT count(*) FROM flows")
    process = subprocess.Popen(
        [sys.executable, "-m", "mitmtape.cli", "--db", str(db), "import", str(har), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0 if group else None,
    )
    wait_until(
        lambda: stored(db, "SELECT count(*) FROM flows") != before or process.poll() is not None,
        IMPORT_COMMIT_SECONDS,
        "the import's first commit",
        poll=COMMIT_POLL_SECONDS,
    )
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_import_into_a_new_session_removes_it(
    filled: Path, big_har: Path, signum: int, status: int
) -> None:
    sessions = stored(filled, "SELECT count(*) FROM sessions")
    code, err = interrupt_import(filled, big_har, signum)

    assert (code, err) == (status, "mitmtape: import interrupted; the new session was removed\n")
    assert stored(filled, "SELECT count(*) FROM sessions") == sessions
    assert stored(filled, "SELECT count(*) FROM sessions WHERE name LIKE '%(imported)'") == 0
    assert stored(filled, "SELECT count(*) FROM flows") == 2


@pytest.mark.parametrize("group", [False, True], ids=["process", "group"])
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_import_into_a_session_keeps_what_was_written(
    filled: Path, big_har: Path, signum: int, status: int, group: bool
) -> None:
    code, err = interrupt_import(filled, big_har, signum, "--into", "API Tests", group=group)

    kept = stored(filled, "SELECT count(*) FROM flows") - 2
    assert 0 < kept < BIG_HAR_ENTRIES
    assert code == status
    assert err == f"mitmtape: import interrupted; {count(kept, 'flow')} written before were kept\n"


def test_compare_text_and_json(filled: Path, tmp_path: Path) -> None:
    run("--db", str(filled), "import", str(SAMPLES / "mitmproxy-savehar.har"))
    code, out = run("--db", str(filled), "compare", "API Tests", "mitmproxy-savehar.har (imported)")
    assert code == 0 and out.startswith("A  API Tests  2 flows, 2 endpoints")
    code, out = run(
        "--db", str(filled), "compare", "API Tests", "mitmproxy-savehar.har (imported)", "--json"
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["b"]["flows"] == 10
    assert {r["endpoint"] for r in data["removed"]} == {"GET a.test/one", "POST a.test/two"}


def test_compare_deep_reports_inside_the_responses(filled: Path, make_record) -> None:
    store = Store(filled)
    later = store.create_session("later")
    # The same 5 bytes as in "API Tests" (`12345`), now a JSON string.
    store.add_flows([make_record(session_id=later.id, url="https://a.test/one",
                                 response_body=b'"123"')])  # fmt: skip
    store.close()
    code, out = run("--db", str(filled), "compare", "API Tests", "later", "--deep")
    assert code == 0
    assert out.split("Responses changed:\n")[1] == (
        "  GET a.test/one  field type changed: (body)  integer → string\n"
    )
    code, out = run("--db", str(filled), "compare", "API Tests", "later", "--deep", "--json")
    assert code == 0 and json.loads(out)["responses"] == [
        {"endpoint": "GET a.test/one", "change": "field_type_changed", "what": "(body)",
         "a": "integer", "b": "string"}
    ]  # fmt: skip
    code, out = run("--db", str(filled), "compare", "API Tests", "later", "--json")
    assert "responses" not in json.loads(out)


def test_export_openapi_with_host_picks_one_server(filled: Path, make_record, tmp_path) -> None:
    store = Store(filled)
    session = store.get_session("API Tests")
    store.add_flows([make_record(session_id=session.id, url="http://b.test:8080/other/42")])
    store.close()
    code, out = run("--db", str(filled), "export", "API Tests", "--format", "openapi", "-o", "-")
    assert code == 0
    assert [s["url"] for s in json.loads(out)["servers"]] == [
        "https://a.test",
        "http://b.test:8080",
    ]
    code, out = run("--db", str(filled), "export", "API Tests", "--format", "openapi",
                    "--host", "b.test", "-o", "-")  # fmt: skip
    document = json.loads(out)
    assert code == 0 and document["servers"] == [{"url": "http://b.test:8080"}]
    assert list(document["paths"]) == ["/other/{id}"]
