"""`mitmtape export` and `mitmtape copy` with redaction: the flags, and what `--json` says."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mitmtape.cli import main
from mitmtape.store import Store
from tests.conftest import RecordFactory

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnLXNlY3JldA"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


@pytest.fixture
def secrets_db(tmp_path: Path, make_record: RecordFactory) -> Path:
    path = tmp_path / "tape.db"
    store = Store(path)
    session = store.create_session("Secrets", activate=True)
    record = make_record(
        session_id=session.id,
        method="POST",
        url=f"https://a.test/login?api_key=key-s3&id={JWT}",
        request_body=b"user=alice&tenant_pin=pin-s3",
        request_headers=[
            ("Authorization", "Bearer bearer-s3"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
    )
    store.add_flows([record])
    store.close()
    return path


def export_json(db: Path, folder: Path, *flags: str) -> tuple[dict, str]:
    status, printed = run("--db", str(db), "export", "Secrets", "--format", "json", "-o",
                          str(folder), "--json", *flags)  # fmt: skip
    assert status == 0
    summary = json.loads(printed)
    return summary, Path(summary["path"]).read_text()


def test_export_json_prints_path_flows_size_and_the_redaction_counts(secrets_db, tmp_path):
    summary, text = export_json(secrets_db, tmp_path, "--redact")
    assert summary == {
        "path": summary["path"],
        "flows": 1,
        "size": Path(summary["path"]).stat().st_size,
        "redacted": {"headers": 1, "cookies": 0, "query_parameters": 1, "body_fields": 0,
                     "jwts": 1, "bodies": 0},
    }  # fmt: skip
    assert "bearer-s3" not in text and "key-s3" not in text and "c2lnLXNlY3JldA" not in text
    assert "eyJzdWIiOiJhbGljZSJ9" in text and "pin-s3" in text


def test_export_without_redaction_reports_nothing_redacted_and_keeps_every_secret(
    secrets_db, tmp_path
) -> None:
    summary, text = export_json(secrets_db, tmp_path)
    assert summary["redacted"] == {}
    assert all(secret in text for secret in ("bearer-s3", "key-s3", JWT, "pin-s3"))


def test_redact_strict_masks_jwts_whole(secrets_db, tmp_path) -> None:
    _, text = export_json(secrets_db, tmp_path, "--redact=strict")
    assert "eyJzdWIi" not in text and "id=***" in text


def test_redact_name_is_repeatable_and_alone_turns_redaction_on(secrets_db, tmp_path) -> None:
    summary, text = export_json(
        secrets_db, tmp_path, "--redact-name", "tenant-pin", "--redact-name", "user"
    )
    assert "pin-s3" not in text and "alice" not in text and "bearer-s3" not in text
    assert summary["redacted"]["body_fields"] == 2


def test_redact_bodies_leaves_out_the_bodies_of_matching_urls(secrets_db, tmp_path) -> None:
    summary, text = export_json(secrets_db, tmp_path, "--redact-bodies", "https://a.test/*")
    flow = json.loads(text)[0]
    assert flow["request"]["body"]["omitted"] == "redacted" and "pin-s3" not in text
    assert summary["redacted"]["bodies"] == 2


def test_export_prints_the_counts_for_people_on_stderr(secrets_db, tmp_path, capsys) -> None:
    status, _ = run("--db", str(secrets_db), "export", "Secrets", "--format", "har", "-o",
                    str(tmp_path), "--redact")  # fmt: skip
    assert status == 0
    assert capsys.readouterr().err.strip().endswith("; redacted 1 header, 1 query parameter, 1 JWT")


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--redact=maybe"], "redaction must be false, true or strict, not 'maybe'"),
        (["--json", "-o", "-"], "--json needs -o PATH"),
    ],
)
def test_bad_redaction_flags_are_refused_in_one_sentence(secrets_db, capsys, flags, problem):
    try:
        status, _ = run("--db", str(secrets_db), "export", "Secrets", "--format", "json", *flags)
    except SystemExit as exc:  # argparse refuses a bad value before the command runs
        status = exc.code
    err = capsys.readouterr().err
    assert status != 0 and problem in err and "Traceback" not in err


def test_copy_as_code_redacts_when_asked(secrets_db) -> None:
    store = Store(secrets_db)
    flow_id = store.list_flows(store.get_session("Secrets").id)[0].id
    store.close()
    _, plain = run("--db", str(secrets_db), "copy", flow_id, "--as", "curl")
    _, masked = run("--db", str(secrets_db), "copy", flow_id, "--as", "curl", "--redact")
    assert "bearer-s3" in plain and "key-s3" in plain
    assert "bearer-s3" not in masked and "key-s3" not in masked and "Bearer ***" in masked
