"""mitmproxy flow files in: a real `mitmdump -w` file imports as the live recording did, and a
broken file keeps its good flows and reports the rest, element by element."""

from __future__ import annotations

import io
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from mitmproxy import io as mitmproxy_io
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow

from mitmtape.cli import main
from mitmtape.importers import ImportFailed, import_file, import_new_session
from mitmtape.importers.mitmfile import MAX_FLOW_DEPTH, convert, entries, sniff, too_deep
from mitmtape.importers.sniff import EntryError, Source
from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump
from tests.e2e.servers import http_server, self_signed_tls, websocket_server
from tests.e2e.test_capture import websocket_through
from tests.ports import free_port
from tests.records import records_json

# Renewed by every import (spec section 4): not compared between a recording and an import.


def flow_file(*flows: Any) -> bytes:
    out = io.BytesIO()
    writer = mitmproxy_io.FlowWriter(out)
    for flow in flows:
        writer.add(flow)
    return out.getvalue()


@pytest.mark.e2e
def test_a_real_mitmdump_file_imports_as_the_live_recording_made_it(tmp_path: Path) -> None:
    """The same traffic, recorded by the addon and written by `-w`: the import is the same."""
    saved = tmp_path / "capture"  # no suffix: `mitmdump -w` names files as it is told
    proxy = MitmDump(tmp_path, "-w", str(saved), "--set", "ssl_insecure=true").start()
    closed = free_port()
    try:
        with http_server() as port, http_server(tls=self_signed_tls(tmp_path)) as tls_port:
            trust = ssl.create_default_context(cafile=proxy.ca_cert)
            with httpx.Client(proxy=proxy.proxy, verify=trust, timeout=10) as client:
                client.get(f"http://127.0.0.1:{port}/first?a=1")
                client.get(f"http://127.0.0.1:{port}/gzip")
                client.post(f"https://localhost:{tls_port}/secure", content=b"secret=1")
                assert client.get(f"http://127.0.0.1:{closed}/refused").status_code == 502
        with websocket_server() as ws_port:
            websocket_through(proxy.port, ws_port)
    finally:
        assert proxy.stop() == 0
    store = Store(proxy.db)
    try:
        live = store.active_session()
        imported, result = import_new_session(store, saved)
        assert (result.imported, result.skipped, result.errors) == (5, 0, [])
        assert imported.name == "capture (imported)"
        assert records_json(store, imported.id) == records_json(store, live.id)
        secure = records_json(store, imported.id)[2]
        assert secure["server"]["tls_version"].startswith("TLSv1.")
        assert secure["server"]["sni"] == "localhost"
    finally:
        store.close()


def test_flows_other_than_http_are_skipped_and_counted(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "tcp-only.mitm"
    path.write_bytes(flow_file(tflow.ttcpflow(), tflow.tudpflow(), tflow.tdnsflow()))
    session = store.create_session("target")
    result = import_file(store, path, session.id)
    assert (result.imported, result.skipped) == (0, 3)
    assert result.errors == [
        "entry 0: a TCP flow (only HTTP flows are imported)",
        "entry 1: a UDP flow (only HTTP flows are imported)",
        "entry 2: a DNS flow (only HTTP flows are imported)",
    ]


def test_a_truncated_file_keeps_the_flows_before_the_cut(tmp_path: Path, store: Store) -> None:
    whole = flow_file(tflow.tflow(resp=True), tflow.tflow(resp=True))
    path = tmp_path / "cut.mitm"
    path.write_bytes(whole[: len(whole) - 10])
    session = store.create_session("target")
    result = import_file(store, path, session.id)
    assert (result.imported, result.skipped) == (1, 1)
    assert result.errors == ["entry 1: the file ends inside this flow (truncated?)"]


def test_an_element_of_the_wrong_type_is_skipped_and_the_next_read(
    tmp_path: Path, store: Store
) -> None:
    good = flow_file(tflow.tflow(resp=True))
    path = tmp_path / "mixed.mitm"
    path.write_bytes(good + tnetstring.dumps([1, 2]) + tnetstring.dumps({"type": "http"}) + good)
    session = store.create_session("target")
    result = import_file(store, path, session.id, format="mitm")
    assert (result.imported, result.skipped) == (2, 2)
    assert (
        result.errors[0] == "entry 1: not a flow: a tnetstring list, where a flow is a dictionary"
    )
    assert result.errors[1].startswith("entry 2: not a flow mitmproxy can read")


def test_garbage_after_good_flows_ends_the_file_with_one_message(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "garbage.mitm"
    path.write_bytes(flow_file(tflow.tflow(resp=True)) + b"\x00\x01 not a tnetstring")
    session = store.create_session("target")
    result = import_file(store, path, session.id)
    assert result.imported == 1
    assert result.errors == [
        "entry 1: not a tnetstring (no length prefix); the rest of the file cannot be read"
    ]


def nested(depth: int) -> bytes:
    """A dictionary whose one value nests lists until `depth` containers in all, built
    without recursion (tnetstring's own `dumps` recurses)."""
    lengths = [len(b"0:]")]  # of each list around the innermost (empty) one, inside out
    for _ in range(depth - 3):
        lengths.append(len(str(lengths[-1])) + 2 + lengths[-1])
    lists = b"".join(f"{n}:".encode() for n in reversed(lengths)) + b"0:]" + b"]" * len(lengths)
    content = tnetstring.dumps("metadata") + lists
    return f"{len(content)}:".encode() + content + b"}"


def test_nesting_is_judged_without_recursion_at_its_limit() -> None:
    assert not too_deep(nested(MAX_FLOW_DEPTH))
    assert too_deep(nested(MAX_FLOW_DEPTH + 1))
    assert too_deep(nested(50_000))  # mitmproxy's own parser would raise RecursionError


def test_a_deep_element_is_skipped_not_a_recursion_error(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "deep.mitm"
    path.write_bytes(nested(5_000) + flow_file(tflow.tflow(resp=True)))
    session = store.create_session("target")
    result = import_file(store, path, session.id, format="mitm")
    assert (result.imported, result.skipped) == (1, 1)
    assert result.errors == [f"entry 0: nested deeper than {MAX_FLOW_DEPTH} levels"]


def test_sniffing_knows_a_flow_file_by_its_first_bytes() -> None:
    assert sniff(flow_file(tflow.tflow()))
    assert not sniff(b'[{"request": {}}]')
    assert not sniff(b"12:hello world!,")  # a tnetstring, not a flow


def test_a_file_that_is_no_flow_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text")
    with pytest.raises(ImportFailed) as failed:
        import_new_session(Store(tmp_path / "tape.db"), path, format="mitm")
    assert str(failed.value) == "notes.txt: not a mitmproxy flow file (no tnetstring flow)"


def test_a_streamed_body_comes_in_as_not_recorded() -> None:
    flow = tflow.tflow(resp=True)
    flow.response.headers["content-length"] = "1234"
    flow.response.raw_content = None
    [element] = list(entries(Source(io.BytesIO(flow_file(flow)), "streamed.mitm")))
    record = convert(element)
    assert record.response is not None
    assert record.response.body.omitted == "streamed"
    assert record.response.body.size == 1234


def test_an_element_with_a_problem_becomes_an_entry_error() -> None:
    [element] = list(entries(Source(io.BytesIO(b"99:short"), "cut.mitm")))
    with pytest.raises(EntryError, match="truncated"):
        convert(element)


def test_the_command_line_imports_a_flow_file_by_its_format(tmp_path: Path, capsys) -> None:
    path = tmp_path / "dump"
    path.write_bytes(flow_file(tflow.tflow(resp=True), tflow.ttcpflow()))
    db = str(tmp_path / "tape.db")
    assert main(["--db", db, "import", str(path), "--format", "mitm", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["imported"], result["skipped"]) == (1, 1)
