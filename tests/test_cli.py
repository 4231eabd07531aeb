from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mitmtape.cli import human_size, main
from mitmtape.store import Store
from tests.conftest import RecordFactory


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


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (3_200_000, "3.2 MB")]
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text
