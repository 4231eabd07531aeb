"""Hostile and unlucky import files (issue 13, items 1, 3, 4, 10): each at its edge and door."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mitmtape.importers import ImportFailed, import_file, import_new_session
from mitmtape.importers.guard import MAX_JSON_DEPTH
from mitmtape.importers.ranges import INT64_MAX
from mitmtape.model import UNKNOWN_TIME
from tests.e2e.mitmdump import venv_tool
from tests.importers.conftest import har_document, har_entry

# A peak this far above the same process importing a one-flow file means the depth got through.
MEMORY_MARGIN_MB = 100
DEEP_LEVELS = 50_000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_har(entries: list[str]) -> str:
    """A HAR whose entries are given as JSON text, for values `json.dumps` cannot write."""
    return '{"log": {"version": "1.2", "entries": [' + ", ".join(entries) + "]}}"


# --- item 1: nesting ----------------------------------------------------------------------------


def _entry_with_comment_depth(depth: int) -> str:
    """An entry whose comment nests so that the deepest bracket is `depth` levels deep."""
    inside = depth - 4  # root object, log, entries, the entry itself
    entry = json.dumps(har_entry())
    return entry[:-1] + ', "comment": ' + nested(inside) + "}"


@pytest.mark.parametrize(("depth", "imported"), [(MAX_JSON_DEPTH, 3), (MAX_JSON_DEPTH + 1, 2)])
def test_an_entry_nested_past_the_limit_alone_is_skipped(
    store, session_id, text_file, depth: int, imported: int
) -> None:
    plain = json.dumps(har_entry())
    path = text_file("deep.har", raw_har([plain, _entry_with_comment_depth(depth), plain]))
    result = import_file(store, path, session_id)
    assert result.imported == imported
    if imported == 2:
        assert result.errors == [f"entry 1: nested deeper than {MAX_JSON_DEPTH} levels"]


def test_nesting_in_the_file_structure_refuses_the_file(store, text_file) -> None:
    pages = nested(MAX_JSON_DEPTH)  # pages at depth 3: two levels past the limit
    document = '{"log": {"pages": ' + pages + ', "entries": [' + json.dumps(har_entry()) + "]}}"
    before = len(store.list_sessions())
    with pytest.raises(ImportFailed) as caught:
        import_new_session(store, text_file("pages.har", document))
    assert str(caught.value) == (
        f"pages.har: nesting {MAX_JSON_DEPTH + 2} levels deep at byte 80; "
        f"the limit is {MAX_JSON_DEPTH} levels"
    )
    assert len(store.list_sessions()) == before


def _run_measured(args: list[str], cwd: Path) -> tuple[float, int, str, str]:
    """Peak resident memory of one child in MB (os.wait4 reports that child alone)."""
    child = subprocess.Popen(
        args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stderr is not None
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, child.returncode, out, err


def test_the_cli_imports_fifty_thousand_levels_without_the_memory(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(nested(DEEP_LEVELS))
    small = tmp_path / "small.json"
    small.write_text(json.dumps([{"request": {"method": "GET", "url": "https://a.test/"}}]))
    command = [venv_tool("mitmtape"), "--db", str(tmp_path / "t.db"), "import"]
    baseline, code, _, _ = _run_measured([*command, str(small)], tmp_path)
    assert code == 0
    peak, code, out, err = _run_measured([*command, str(deep), "--json"], tmp_path)
    assert code == 0, err
    result = json.loads(out)
    assert result["imported"] == 0
    assert result["errors"] == [f"entry 0: nested deeper than {MAX_JSON_DEPTH} levels"]
    assert peak - baseline < MEMORY_MARGIN_MB


# Peak resident memory so far (VmHWM), in MB, inside the child process.
HIGH_WATER = """
from pathlib import Path
def high_water_mb():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024
"""
API_DOOR = (
    HIGH_WATER
    + """
import json, sys, httpx
from mitmtape.api.server import ApiServer
from mitmtape.store import Store
api = ApiServer(Store(sys.argv[1]), "token")
api.start()
with httpx.Client(base_url=api.url, headers={"Authorization": "Bearer token"}) as http:
    http.post("/api/v1/import", params={"name": "small.json"}, content=sys.argv[3].encode())
    before = high_water_mb()
    with open(sys.argv[2], "rb") as body:
        answer = http.post("/api/v1/import", params={"name": "deep.json"}, content=body.read())
    print(json.dumps({"status": answer.status_code, "body": answer.json(),
                      "grown": high_water_mb() - before}))
api.stop()
"""
)

ADDON_DOOR = (
    HIGH_WATER
    + """
import json, logging, logging.handlers, sys
from mitmproxy.test import taddons
from mitmtape.addon import MitmTape
told = logging.handlers.BufferingHandler(100)
logging.getLogger("mitmtape").addHandler(told)
logging.getLogger("mitmtape").setLevel(logging.INFO)
addon = MitmTape()
with taddons.context(addon) as tctx:
    tctx.configure(addon, tape_db=sys.argv[1])
    small = sys.argv[2] + ".small.json"
    open(small, "w").write(sys.argv[3])
    tctx.command(addon.imports.import_into_active, small)
    before = high_water_mb()
    tctx.command(addon.imports.import_into_active, sys.argv[2])
    message = told.buffer[-1].getMessage()  # the command tells its outcome in the log
    print(json.dumps({"message": message, "grown": high_water_mb() - before}))
    addon.done()
"""
)


@pytest.mark.parametrize("door", [API_DOOR, ADDON_DOOR], ids=["api-upload", "tape.import"])
def test_other_doors_take_fifty_thousand_levels_without_the_memory(
    tmp_path: Path, door: str
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(nested(DEEP_LEVELS))
    small = json.dumps([{"request": {"method": "GET", "url": "https://a.test/"}}])
    completed = subprocess.run(
        [sys.executable, "-c", door, str(tmp_path / "t.db"), str(deep), small],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["grown"] < MEMORY_MARGIN_MB
    if "status" in report:
        assert report["status"] == 200 and report["body"]["skipped"] == 1
    else:
        assert report["message"].startswith("Imported 0 flows (1 skipped: entry 0: nested")


# --- item 3: one rule for values out of range ---------------------------------------------------


@pytest.mark.parametrize(("status", "kept"), [(999, True), (1000, False), (10**19, False)])
def test_a_status_out_of_range_skips_the_entry(
    store, session_id, text_file, status: int, kept: bool
) -> None:
    entry = json.dumps(har_entry()).replace('"status": 200', f'"status": {status}')
    plain = json.dumps(har_entry())
    result = import_file(store, text_file("s.har", raw_har([entry, plain])), session_id)
    assert result.imported == (2 if kept else 1)
    if not kept:
        assert result.skipped == 1 and result.errors[0].startswith("entry 0: response status")


@pytest.mark.parametrize(("port", "kept"), [(65535, True), (65536, False)])
def test_a_json_port_out_of_range_skips_the_flow(
    store, session_id, json_file, port: int, kept: bool
) -> None:
    flow = {"request": {"method": "GET", "url": "https://a.test/", "port": port}}
    result = import_file(store, json_file([flow, flow | {}]), session_id)
    assert result.imported == (2 if kept else 0)
    assert result.skipped == (0 if kept else 2)


def test_a_method_that_is_not_a_token_skips_the_flow(store, session_id, json_file) -> None:
    flows = [
        {"request": {"method": "GET /x HTTP/1.1\r\n", "url": "https://a.test/"}},
        {"request": {"method": "PURGE", "url": "https://a.test/"}},
    ]
    result = import_file(store, json_file(flows), session_id)
    assert result.imported == 1 and result.errors[0].startswith("entry 0: request method")


@pytest.mark.parametrize(
    ("wait_ms", "stored"), [(INT64_MAX // 1000, INT64_MAX // 1000 * 1000), (1e300, UNKNOWN_TIME)]
)
def test_a_timing_out_of_range_is_dropped_and_the_entry_kept(
    store, session_id, har_file, records, wait_ms: float, stored: int
) -> None:
    result = import_file(store, har_file([har_entry(timings={"wait": wait_ms})]), session_id)
    assert result.imported == 1 and result.skipped == 0
    assert records(session_id)[0].timings.wait == stored
    dropped = stored == UNKNOWN_TIME
    assert result.errors == (["entry 0: timings.wait out of range, dropped"] if dropped else [])


def test_measurements_and_extensions_out_of_range_are_dropped(
    store, session_id, json_file, records
) -> None:
    flow = {
        "request": {"method": "GET", "url": "https://a.test/"},
        "duration_ms": 1e300,
        "timings": {"wait": 2**63},
        "metadata": {"keep": "me", "huge": [1, 2**64]},
        "server": {"host": "a.test", "port": 70000},
    }
    result = import_file(store, json_file([flow]), session_id)
    assert result.imported == 1 and result.skipped == 0
    assert result.errors == [
        "entry 0: duration_ms out of range, dropped",
        "entry 0: timings.wait out of range, dropped",
        "entry 0: metadata.huge out of range, dropped",
        "entry 0: server.port out of range, dropped",
    ]
    record = records(session_id)[0]
    assert record.duration_ms is None and record.timings.wait == UNKNOWN_TIME
    assert record.metadata["keep"] == "me" and "huge" not in record.metadata
    assert record.server == {"host": "a.test"}


def test_an_entry_that_fails_anywhere_does_not_stop_the_others(store, session_id, har_file) -> None:
    entries: list[Any] = [har_entry(), har_entry(request={"url": 5}), "junk", har_entry()]
    result = import_file(store, har_file(entries), session_id)
    assert result.imported == 2 and result.skipped == 2


# --- item 4: valid JSON no longer refused whole ------------------------------------------------


def test_an_integer_past_64_bits_anywhere_no_longer_fails_the_file(
    store, session_id, text_file, records
) -> None:
    entry = json.dumps(har_entry(comment="x")).replace('"comment": "x"', '"comment": 1' + "0" * 30)
    extra = '"_big": 123456789012345678901234567890, '
    path = text_file("big.har", raw_har([entry]).replace('"entries"', extra + '"entries"'))
    result = import_file(store, path, session_id)
    assert result.imported == 1
    assert result.errors == ["entry 0: metadata.comment out of range, dropped"]
    assert "comment" not in records(session_id)[0].metadata


def test_a_lone_surrogate_becomes_a_replacement_character(
    store, session_id, text_file, records
) -> None:
    request = {"method": "GET", "url": "https://a.test/", "headers": [{"name": "x", "value": "V"}]}
    entry = json.dumps(har_entry(request=request)).replace('"V"', '"a\\udc00b"')
    path = text_file("s.har", raw_har([entry]))
    assert import_file(store, path, session_id).imported == 1
    assert records(session_id)[0].request.headers == [("x", "a\ufffdb")]


# --- item 10: readable errors, UTF-16 and UTF-32 -----------------------------------------------


def test_a_json_error_is_one_sentence_with_the_byte_offset(store, session_id, text_file) -> None:
    path = text_file("bad.json", '[{"request": {"method": "GET", "url": "https://a/"}}, tru]')
    with pytest.raises(ImportFailed) as caught:
        import_file(store, path, session_id)
    assert str(caught.value) == (
        "bad.json: not valid JSON at byte 57: unexpected word (only true, false and null are words)"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_imported(
    store, session_id, text_file, records, encoding: str
) -> None:
    text = json.dumps(har_document([har_entry(comment="héllo ✓ 😀")]))
    bom = {"utf-16-be": "\ufeff", "utf-32-be": "\ufeff"}.get(encoding, "")
    path = text_file("wide.har", (bom + text).encode(encoding))
    assert import_file(store, path, session_id).imported == 1
    assert records(session_id)[0].metadata["comment"] == "héllo ✓ 😀"


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16-le", "UTF-16 (little-endian)"),
        ("utf-16-be", "UTF-16 (big-endian)"),
        ("utf-32-le", "UTF-32 (little-endian)"),
        ("utf-32-be", "UTF-32 (big-endian)"),
    ],
)
def test_utf16_and_utf32_without_a_byte_order_mark_are_refused_by_name(
    store, text_file, encoding: str, named: str
) -> None:
    path = text_file("wide.json", json.dumps([]).encode(encoding))
    with pytest.raises(ImportFailed, match=re.escape(f"wide.json: the file looks like {named}")):
        import_new_session(store, path)
    assert store.find_session("wide.json (imported)") is None
