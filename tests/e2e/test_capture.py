"""A real mitmdump with the addon, real clients, a local upstream: the CLI shows what happened."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as websocket_connect

from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump, venv_tool
from tests.e2e.servers import GZIP_TEXT, http_server, self_signed_tls, websocket_server
from tests.ports import free_port

pytestmark = pytest.mark.e2e


def cli_flows(db: Path) -> list[dict]:
    sessions = subprocess.run(
        [venv_tool("mitmtape"), "--db", str(db), "sessions", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    [session] = json.loads(sessions.stdout)
    flows = subprocess.run(
        [venv_tool("mitmtape"), "--db", str(db), "flows", session["id"], "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(flows.stdout)


def websocket_through(proxy_port: int, target_port: int) -> None:
    """A WebSocket client tunnelled through the proxy with CONNECT."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    target = f"127.0.0.1:{target_port}"
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1024)
    assert reply.startswith(b"HTTP/1.1 200")
    with websocket_connect(f"ws://{target}/chat", sock=sock) as ws:
        ws.send("hello ✓")
        assert ws.recv(timeout=10) == "hello ✓"
        ws.send(b"\x00\x01\x02")
        assert ws.recv(timeout=10) == b"\x00\x01\x02"


def test_plain_http_traffic_is_recorded_exactly(mitmdump: MitmDump, upstream: int) -> None:
    base = f"http://127.0.0.1:{upstream}"
    closed = free_port()
    with httpx.Client(proxy=mitmdump.proxy, timeout=10) as client:
        assert client.get(f"{base}/first?a=1").status_code == 200
        assert client.get(f"{base}/second").status_code == 200  # same connection
        posted = client.post(
            f"{base}/echo",
            content=b'{"n": 1}',
            headers={"content-type": "application/json", "X-Dup": "a"},
        )
        assert posted.status_code == 201
        assert client.get(f"{base}/gzip").json()["compressed"] is True
        assert client.get(f"{base}/missing").status_code == 404
        assert client.get(f"http://127.0.0.1:{closed}/refused").status_code == 502
    with websocket_server() as ws_port:
        websocket_through(mitmdump.port, ws_port)
    assert mitmdump.stop() == 0

    flows = cli_flows(mitmdump.db)
    assert [(f["method"], f["path"], f["status"]) for f in flows] == [
        ("GET", "/first", 200),
        ("GET", "/second", 200),
        ("POST", "/echo", 201),
        ("GET", "/gzip", 200),
        ("GET", "/missing", 404),
        ("GET", "/refused", 0),
        ("GET", "/chat", 101),
    ]
    assert flows[0]["url"] == f"{base}/first?a=1"
    assert flows[2]["request_size"] == 8 and flows[2]["response_size"] == 8
    assert flows[3]["content_type"] == "application/json"
    assert "connect" in flows[5]["error"].lower()
    assert all(f["source"] == "proxy" for f in flows)

    store = Store(mitmdump.db)
    records = [store.get_flow(f["id"]) for f in flows]
    store.close()
    first, second, post, gzipped, missing, refused, chat = records
    assert first.timings is not None and first.timings.connect >= 0 and first.timings.dns == 0
    assert second.timings is not None and second.timings.connect == -1  # reused connection
    assert post.request.body.data == b'{"n": 1}'
    assert ("X-Dup", "a") in post.request.headers
    assert gzipped.response is not None
    assert ("content-encoding", "gzip") in gzipped.response.headers
    assert gzip.decompress(gzipped.response.body.data) == GZIP_TEXT  # as on the wire
    assert missing.response is not None and missing.response.body.data == b"not here"
    assert refused.response is None and refused.duration_ms is None
    assert first.server is not None and first.server["ip"] == "127.0.0.1"
    assert first.duration_ms is not None and first.duration_ms > 0
    assert chat.websocket is not None
    assert [(m.from_client, m.type, m.content) for m in chat.websocket] == [
        (True, "text", "hello ✓".encode()),
        (False, "text", "hello ✓".encode()),
        (True, "binary", b"\x00\x01\x02"),
        (False, "binary", b"\x00\x01\x02"),
    ]


def test_https_through_mitmproxy_ca_to_a_local_tls_server(mitmdump: MitmDump, tmp_path) -> None:
    with http_server(tls=self_signed_tls(tmp_path)) as port:
        trust = ssl.create_default_context(cafile=mitmdump.ca_cert)
        with httpx.Client(proxy=mitmdump.proxy, verify=trust, timeout=10) as client:
            response = client.post(
                f"https://localhost:{port}/secure",
                content=b"secret=1",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 201 and response.content == b"secret=1"
    assert mitmdump.stop() == 0
    [flow] = cli_flows(mitmdump.db)
    assert flow["url"] == f"https://localhost:{port}/secure"
    store = Store(mitmdump.db)
    record = store.get_flow(flow["id"])
    store.close()
    assert record.request.body.data == b"secret=1"
    assert record.server is not None
    assert record.server["sni"] == "localhost"
    assert record.server["tls_version"].startswith("TLSv1.")
    assert record.timings is not None and record.timings.ssl >= 0


def test_corrupt_database_stops_mitmdump_with_one_clear_error(tmp_path: Path) -> None:
    proxy = MitmDump(tmp_path)
    garbage = b"definitely not sqlite" * 100
    proxy.db.write_bytes(garbage)
    result = subprocess.run(proxy.args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "not a usable mitmtape database" in output
    assert "Traceback" not in output
    assert proxy.db.read_bytes() == garbage


def test_database_in_a_missing_folder_is_created(tmp_path: Path, upstream: int) -> None:
    db = tmp_path / "new" / "folder" / "tape.db"
    proxy = MitmDump(tmp_path, db=db).start()
    try:
        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"http://127.0.0.1:{upstream}/x")
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    assert [f["path"] for f in cli_flows(db)] == ["/x"]
