"""The export pipeline: batches, cap, cancellation, atomic files, default names, artifacts."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mitmtape.export.formats import FORMATS
from mitmtape.export.pipeline import (
    ARTIFACT_MAX_BYTES,
    ARTIFACTS_KEEP,
    ExportCancelled,
    ExportError,
    ExportOptions,
    default_file_name,
    export_records,
    export_session,
    safe_file_stem,
)
from mitmtape.model import FlowRecord, Session
from mitmtape.store import FlowFilter, Store
from tests.conftest import RecordFactory


def fill(store: Store, make_record: RecordFactory, total: int, **fields) -> str:
    session = store.create_session("Pipeline Tests")
    store.add_flows(make_record(session_id=session.id, **fields) for _ in range(total))
    return session.id


def csv_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize("total", [4_999, 5_000, 5_001])
def test_batch_boundaries_export_every_flow_once(store, make_record, tmp_path, total) -> None:
    session = fill(store, make_record, total, response_body=b"")
    calls: list[tuple[int, int]] = []
    options = ExportOptions(progress=lambda done, all_: calls.append((done, all_)))
    result = export_session(store, session, "csv", tmp_path / "out.csv", options)
    ids = csv_ids(result.path)
    assert len(ids) == len(set(ids)) == total == result.flows == result.matched
    assert result.warning is None
    assert calls[-1] == (total, total)
    assert len(calls) == (1 if total <= 5_000 else 2)


def test_cap_at_100000_says_how_many_were_left_out(store, make_record, tmp_path) -> None:
    session = fill(store, make_record, 100_001, response_body=b"")
    result = export_session(store, session, "csv", tmp_path, ExportOptions(keep_artifact=False))
    assert result.flows == 100_000 and result.matched == 100_001
    assert result.warning == (
        "the csv export stops at 100,000 flows: 1 of 100,001 matching flows were left out"
    )
    ids = csv_ids(result.path)
    assert len(ids) == 100_000
    oldest = [r.id for b in store.iter_flow_batches(session, with_bodies=False) for r in b]
    assert ids == oldest[:100_000]


@pytest.mark.parametrize(("cap", "total", "written"), [(10, 10, 10), (10, 11, 10), (10, 9, 9)])
def test_cap_is_a_parameter(store, make_record, tmp_path, cap, total, written) -> None:
    session = fill(store, make_record, total)
    result = export_session(
        store, session, "json", tmp_path / "o.json", ExportOptions(cap=cap, batch_size=3)
    )
    assert len(json.loads(result.path.read_text())) == written == result.flows
    assert (result.warning is None) == (total <= cap)


@pytest.mark.parametrize(("total", "note"), [(10_000, False), (10_001, True)])
def test_report_export_stops_at_10000_and_says_so(
    store, make_record, tmp_path, total: int, note: bool
) -> None:
    session = fill(store, make_record, total, response_body=b"")
    result = export_session(store, session, "html", tmp_path / "r.html")
    page = result.path.read_text(encoding="utf-8")
    assert result.flows == 10_000 and result.matched == total
    assert ('id="cap-note"' in page) is note
    if note:
        assert "This session had 10,001 flows; the first 10,000 are shown." in page
        assert result.warning is not None and "1 of 10,001" in result.warning


def test_report_format_caps_at_10000() -> None:
    assert FORMATS["html"].cap == 10_000
    assert all(f.cap == 100_000 for name, f in FORMATS.items() if name != "html")


def test_cancelled_export_leaves_no_file_and_keeps_the_old_one(store, make_record, tmp_path):
    session = fill(store, make_record, 12)
    target = tmp_path / "out.har"
    target.write_text("previous export")
    checks: list[int] = []

    def cancelled() -> bool:
        checks.append(1)
        return len(checks) > 1  # let the first batch through, then cancel

    with pytest.raises(ExportCancelled):
        export_session(
            store, session, "har", target, ExportOptions(batch_size=5, cancelled=cancelled)
        )
    assert target.read_text() == "previous export"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("tape.db")] == ["out.har"]
    assert store.list_artifacts() == []


def test_failing_writer_leaves_no_partial_file(store, make_record, tmp_path, monkeypatch) -> None:
    session = fill(store, make_record, 3)

    def broken(out, records, context) -> None:
        out.write("[")
        next(records)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(FORMATS, "json", replace(FORMATS["json"], write=broken))
    target = tmp_path / "sub" / "x.json"
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_session(store, session, "json", target)
    assert list(target.parent.iterdir()) == []


def test_unknown_format_is_named(store, make_record, tmp_path) -> None:
    session = fill(store, make_record, 1)
    with pytest.raises(ExportError, match="unknown export format 'yaml'; choose one of har"):
        export_session(store, session, "yaml", tmp_path / "x.yaml")


def test_sql_filters_narrow_the_export(store, make_record, tmp_path) -> None:
    session = store.create_session("filters")
    store.add_flows(
        [
            make_record(session_id=session.id, method="GET", url="https://a.test/api/orders"),
            make_record(
                session_id=session.id, method="POST", url="https://a.test/api/orders", status=500
            ),
            make_record(
                session_id=session.id, method="POST", url="https://a.test/login", status=401
            ),
        ]
    )
    options = ExportOptions(flow_filter=FlowFilter(method="POST", url="/api/", status_min=400))
    result = export_session(store, session.id, "json", tmp_path / "f.json", options)
    [only] = json.loads(result.path.read_text())
    assert (only["request"]["method"], only["response"]["status"]) == ("POST", 500)
    assert result.matched == 1


def test_python_predicate_combines_with_sql_filters(store, make_record, tmp_path) -> None:
    session = fill(store, make_record, 6)
    seen = iter(range(100))
    options = ExportOptions(
        flow_filter=FlowFilter(method="GET"), matches=lambda record: next(seen) % 2 == 0
    )
    result = export_session(store, session, "json", tmp_path / "p.json", options)
    assert result.matched == 3 and result.flows == 3


def test_folder_destination_gets_the_default_name(store, make_record, tmp_path) -> None:
    session = fill(store, make_record, 1)
    out = tmp_path / "exports"
    out.mkdir()
    result = export_session(store, session, "postman", out)
    assert result.path.parent == out
    assert result.path.name.startswith("Pipeline_Tests_")
    assert result.path.name.endswith("_postman_collection.json")


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("API Tests", "API_Tests"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        ('/\\:*?"<>|', "session"),
        ("   ", "session"),
        ("ünïcode ✓", "ünïcode_✓"),
    ],
)
def test_file_names_are_sanitised(name: str, stem: str) -> None:
    assert safe_file_stem(name) == stem


def test_default_file_name_pattern() -> None:
    moment = datetime(2025, 3, 8, 14, 30, 22, tzinfo=UTC).astimezone()
    name = default_file_name("API Tests", FORMATS["har"], moment)
    assert name == f"API_Tests_{moment.strftime('%Y-%m-%d-%H%M%S')}.har"


def test_artifact_is_kept_with_title_summary_and_metadata(store, make_record, tmp_path) -> None:
    session = fill(store, make_record, 3)
    result = export_session(store, session, "har", tmp_path / "a.har")
    assert result.artifact is not None
    [listed] = store.list_artifacts(type="session_export", session_id=session)
    kept = store.get_artifact(listed.id)
    assert kept.title == "Pipeline Tests — HAR Export"
    assert kept.summary.startswith("3 flows, ")
    assert kept.metadata["flow_count"] == 3
    assert kept.metadata["session_name"] == "Pipeline Tests"
    assert kept.content == result.path.read_bytes()
    assert kept.media_type == "application/json"
    assert kept.file_name == "a.har"


def test_artifact_kept_at_exactly_20mib_and_not_one_byte_more(store, make_record, tmp_path) -> None:
    def export_with_body(length: int, name: str):
        session = store.create_session(name)
        store.add_flows(
            [
                make_record(
                    session_id=session.id,
                    response_body=b"x" * length,
                    response_headers=[("content-type", "text/plain")],
                )
            ]
        )
        return export_session(store, session.id, "json", tmp_path / f"{name}.json")

    # Text bodies go into JSON byte for byte, so the file grows exactly with the body.
    probe_length = ARTIFACT_MAX_BYTES - 5_000
    probe = export_with_body(probe_length, "probe")
    exact_length = probe_length + ARTIFACT_MAX_BYTES - probe.size
    at_limit = export_with_body(exact_length, "at-limit")
    over = export_with_body(exact_length + 1, "over-limit")
    assert at_limit.size == ARTIFACT_MAX_BYTES and at_limit.artifact is not None
    assert over.size == ARTIFACT_MAX_BYTES + 1 and over.artifact is None
    kept = {artifact.session_id for artifact in store.list_artifacts()}
    assert store.get_session("over-limit").id not in kept


def test_export_records_from_a_selection(store, make_record, tmp_path) -> None:
    records: list[FlowRecord] = [make_record() for _ in range(4)]
    selection = Session(id="", name="selected flows")
    result = export_records(store, records, selection, "json", tmp_path)
    assert result.path.name.startswith("selected_flows_")
    assert [f["id"] for f in json.loads(result.path.read_text())] == [r.id for r in records]
    assert result.artifact is not None and result.artifact.session_id is None


def test_twenty_exports_are_kept_and_the_twenty_first_drops_the_oldest(
    store, make_record, tmp_path
) -> None:
    assert ARTIFACTS_KEEP == 20
    session = fill(store, make_record, 2)
    other = store.create_session("Other").id
    elsewhere = export_session(store, other, "csv", tmp_path / "other.csv").artifact

    def export(n: int) -> str:
        result = export_session(store, session, "csv", tmp_path / f"{n}.csv")
        assert result.artifact is not None
        return result.artifact.id

    made = [export(n) for n in range(ARTIFACTS_KEEP)]
    assert {a.id for a in store.list_artifacts(session_id=session)} == set(made)
    made.append(export(ARTIFACTS_KEEP))
    listed = store.list_artifacts(session_id=session)
    assert {a.id for a in listed} == set(made[1:])
    assert made[0] not in {a.id for a in store.list_artifacts()}
    assert elsewhere is not None and store.get_artifact(elsewhere.id)


@pytest.mark.parametrize("keep", [1, 2])
def test_artifacts_keep_is_the_number_kept(store, make_record, tmp_path, keep: int) -> None:
    session = fill(store, make_record, 1)
    options = ExportOptions(artifacts_keep=keep)
    results = [export_session(store, session, "json", tmp_path, options) for _ in range(3)]
    listed = store.list_artifacts(session_id=session)
    assert [a.id for a in listed] == [r.artifact.id for r in reversed(results[-keep:])]


def test_artifacts_keep_zero_keeps_none_and_clears_the_older_ones(
    store, make_record, tmp_path
) -> None:
    session = fill(store, make_record, 1)
    export_session(store, session, "json", tmp_path / "kept.json")
    result = export_session(
        store, session, "json", tmp_path / "not.json", ExportOptions(artifacts_keep=0)
    )
    assert result.artifact is None and result.path.is_file()
    assert store.list_artifacts() == []


def test_a_negative_artifacts_keep_is_refused() -> None:
    with pytest.raises(ExportError, match="artifacts to keep per session must be 0 or more"):
        ExportOptions(artifacts_keep=-1)
