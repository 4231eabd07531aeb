"""mitmproxy flow files out: what mitmproxy's own reader and a real `mitmdump -nr` read, and
what the flow-file import brings back field for field."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy import io as mitmproxy_io

from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.importers import import_new_session
from mitmtape.model import Body, FlowRecord, Timings
from mitmtape.store import Store
from tests.conftest import RecordFactory
from tests.e2e.mitmdump import venv_tool
from tests.records import records_json

# Renewed by every import (spec section 4), so not compared.
COUNTING_SCRIPT = """
import json
seen = []

def request(flow):
    seen.append([flow.request.method, flow.request.pretty_url])

def done():
    with open({out!r}, "w") as file:
        json.dump(seen, file)
"""


@pytest.fixture
def session_of_every_kind(store: Store, make_record: RecordFactory, rich_record: FlowRecord) -> str:
    session = store.create_session("every kind")
    rich_record.session_id = session.id
    # As a live recording derives them from mitmproxy's timestamps: DNS unknown for a host
    # name, and the wait is what send and receive leave of the duration.
    rich_record.timings = Timings(dns=-1, connect=1500, ssl=2500, send=10, wait=12370, receive=120)
    plain = make_record(
        session.id,
        url="http://127.0.0.1:8080/plain?q=1",
        request_headers=[("host", "127.0.0.1:8080")],
        timings=Timings(dns=0, connect=800, ssl=-1, send=20, wait=12180, receive=300),
        server={"host": "127.0.0.1", "port": 8080, "ip": "127.0.0.1", "sni": None,
                "tls_version": None, "alpn": None},
    )  # fmt: skip
    failed = make_record(session.id, status=None, error="Connection refused")
    failed.timings = Timings(send=50)
    gzipped = make_record(
        session.id,
        response_body=b"\x1f\x8b\x08\x00binary",
        response_headers=[("content-encoding", "gzip"), ("content-type", "application/json")],
        timings=Timings(send=0, wait=12500, receive=0),
    )
    for record in (failed, gzipped):
        record.server = {"host": "api.example.com", "port": 443, "ip": None, "sni": None,
                         "tls_version": None, "alpn": None}  # fmt: skip
    for record in (plain, failed, gzipped):
        record.client = {"host": "127.0.0.1", "port": 50124}
    store.add_flows([rich_record, plain, failed, gzipped])
    return session.id


def exported(store: Store, session_id: str, folder: Path) -> Path:
    options = ExportOptions(keep_artifact=False)
    return export_session(store, session_id, "mitm", folder, options).path


def test_an_exported_session_imports_back_field_for_field(
    store: Store, session_of_every_kind: str, tmp_path: Path
) -> None:
    path = exported(store, session_of_every_kind, tmp_path)
    assert path.name.startswith("every_kind_") and path.suffix == ".mitm"
    again, result = import_new_session(store, path)
    assert (result.imported, result.skipped) == (4, 0)
    back, before = records_json(store, again.id), records_json(store, session_of_every_kind)
    for one, other in zip(back, before, strict=True):
        assert {k: v for k, v in one.items() if one[k] != other.get(k)} == {}


def test_mitmproxy_reads_every_flow_with_its_bytes(
    store: Store, session_of_every_kind: str, tmp_path: Path
) -> None:
    with exported(store, session_of_every_kind, tmp_path).open("rb") as file:
        flows = list(mitmproxy_io.FlowReader(file).stream())
    assert all(isinstance(flow, http.HTTPFlow) for flow in flows)
    rich, plain, failed, gzipped = flows
    assert rich.request.raw_content == bytes(range(256))
    assert rich.request.headers.get_all("x-dup") == ["one", "two"]
    assert rich.comment == "look here" and rich.marked == ":star:"
    assert rich.server_conn.tls_version == "TLSv1.3" and rich.server_conn.alpn == b"http/1.1"
    assert [m.content for m in rich.websocket.messages] == ["hi ✓".encode(), b"\x00\xff\x10"]
    assert plain.server_conn.timestamp_tls_setup is None  # no TLS: the record said -1
    assert failed.response is None and failed.error.msg == "Connection refused"
    assert gzipped.response.raw_content == b"\x1f\x8b\x08\x00binary"  # as on the wire


@pytest.mark.e2e
def test_a_real_mitmdump_reads_the_export(
    store: Store, session_of_every_kind: str, tmp_path: Path
) -> None:
    path = exported(store, session_of_every_kind, tmp_path)
    seen = tmp_path / "seen.json"
    script = tmp_path / "count.py"
    script.write_text(COUNTING_SCRIPT.format(out=str(seen)))
    done = subprocess.run(
        [venv_tool("mitmdump"), "-q", "-n", "-r", str(path), "-s", str(script),
         "--set", f"confdir={tmp_path / 'confdir'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(seen.read_text()) == [
        ["POST", "https://api.example.com/upload?x=1&x=2"],
        ["GET", "http://127.0.0.1:8080/plain?q=1"],
        ["GET", "https://api.example.com/v1/items?page=2"],
        ["GET", "https://api.example.com/v1/items?page=2"],
    ]


def test_a_body_not_recorded_is_written_as_mitmproxy_writes_a_streamed_one(
    store: Store, make_record: RecordFactory, tmp_path: Path
) -> None:
    session = store.create_session("omitted")
    record = make_record(session.id, response_headers=[("content-length", "5000")])
    assert record.response is not None
    record.response.body = Body(b"", 5000, "streamed")
    store.add_flows([record])
    again, _ = import_new_session(store, exported(store, session.id, tmp_path))
    [back] = [r for batch in store.iter_flow_batches(again.id) for r in batch]
    assert back.response is not None
    assert (back.response.body.omitted, back.response.body.size) == ("streamed", 5000)


def test_the_same_session_exports_to_the_same_bytes(
    store: Store, session_of_every_kind: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir(), second.mkdir()
    once = exported(store, session_of_every_kind, first).read_bytes()
    assert exported(store, session_of_every_kind, second).read_bytes() == once
