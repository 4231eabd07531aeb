"""`mitmtape mcp` through the SDK's own clients, on a database a real mitmdump recorded: stdio
as a coding agent starts it, and the streamable HTTP transport behind the bearer token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import jsonschema
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.e2e.mitmdump import MitmDump, venv_tool

pytestmark = pytest.mark.e2e
HAR_SCHEMA = json.loads((Path(__file__).parents[1] / "export" / "har-1.2.schema.json").read_text())
TOOLS = {"sessions", "flows", "flow", "generate", "copy_as", "compare", "import"}
TOKEN = "mcp-e2e-token"
ORDER = b'{"item": "tea", "count": 2}'
# Proxies from the environment would send the snippet's request elsewhere.
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def record_traffic(folder: Path, upstream: int) -> Path:
    """Four exchanges through a real mitmdump; stopped cleanly, so every flow is committed."""
    proxy = MitmDump(folder).start()
    base = f"http://127.0.0.1:{upstream}"
    try:
        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"{base}/missing/orders")  # 404, URL matches: the one wanted
            client.get(f"{base}/missing/users")  # 404, another URL
            client.get(f"{base}/orders", headers={"Authorization": "Bearer agent-secret"})  # 200
            client.post(
                f"{base}/orders", content=ORDER, headers={"content-type": "application/json"}
            )
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    return proxy.db


async def with_stdio_server(
    db: Path, cwd: Path, talk: Callable[[ClientSession], Awaitable[None]]
) -> None:
    params = StdioServerParameters(
        command=venv_tool("mitmtape"), args=["--db", str(db), "mcp"], cwd=str(cwd)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await talk(session)


async def call(client: ClientSession, tool: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


async def refused(client: ClientSession, tool: str, /, **arguments: Any) -> str:
    result: CallToolResult = await client.call_tool(tool, arguments)
    assert result.isError
    return result.content[0].text  # type: ignore[union-attr]


def test_an_agent_lists_exports_inspects_copies_imports_and_compares(
    tmp_path: Path, upstream: int
) -> None:
    db = record_traffic(tmp_path, upstream)
    work = tmp_path / "project"
    work.mkdir()
    curl = {}

    async def talk(session: ClientSession) -> None:
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        assert all(tool.outputSchema for tool in listed.tools)

        sessions = (await call(session, "sessions"))["sessions"]
        assert [s["flow_count"] for s in sessions] == [4]
        flows = (await call(session, "flows"))["flows"]
        paths = ["/missing/orders", "/missing/users", "/orders", "/orders"]
        assert [f["path"] for f in flows] == paths

        # Gasoline's call: the failing requests to one URL, as HAR.
        har = await call(session, "generate", format="har", url="orders", status_min=400)
        document = json.loads(har["content"])
        jsonschema.validate(document, HAR_SCHEMA)
        urls = [entry["request"]["url"] for entry in document["log"]["entries"]]
        assert urls == [f"http://127.0.0.1:{upstream}/missing/orders"]

        saved = await call(session, "generate", format="har", save_to="./debug/traffic.har")
        written = work / "debug" / "traffic.har"
        assert (saved["path"], saved["size"], saved["flows"]) == (
            str(written),
            written.stat().st_size,
            4,
        )
        assert "agent-secret" not in written.read_text()  # redacted by default

        post_id = next(f["id"] for f in flows if f["path"] == "/orders" and f["method"] == "POST")
        shown = (await call(session, "flow", flow_id=post_id))["flow"]
        assert shown["request"]["body"]["content"] == ORDER.decode()
        assert shown["response"]["body"]["content"] == ORDER.decode()  # the server echoes it
        assert shown["response"]["status"] == 201

        get_id = next(f["id"] for f in flows if f["path"] == "/orders" and f["method"] == "GET")
        curl["snippet"] = (await call(session, "copy_as", flow_id=get_id, target="curl"))["snippet"]

        imported = await call(session, "import", path="debug/traffic.har")
        assert imported["imported"] == 4 and imported["session_name"] == "traffic.har (imported)"
        compared = await call(
            session, "compare", session_a=sessions[0]["id"], session_b=imported["session"]
        )
        assert compared["comparison"]["b"]["flows"] == 4 and compared["text"]

    anyio.run(with_stdio_server, db, work, talk)
    ran = subprocess.run(
        ["bash", "-c", curl["snippet"]], capture_output=True, timeout=30, env=NO_PROXY_ENV
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == b"hello /orders"


def test_bad_input_is_a_tool_error_and_the_server_keeps_serving(
    tmp_path: Path, upstream: int
) -> None:
    db = record_traffic(tmp_path, upstream)

    async def talk(session: ClientSession) -> None:
        assert "no session" in await refused(session, "generate", format="har", session="nope")
        assert "invalid mitmproxy filter expression" in await refused(
            session, "generate", format="har", filter="~q (("
        )
        outside = await refused(session, "generate", format="har", save_to="../escape.har")
        assert "must be a path under the server's working directory" in outside
        assert "unknown export format 'pcap'" in await refused(session, "generate", format="pcap")
        assert "no flow with id 'x'" in await refused(session, "flow", flow_id="x")
        flow_id = (await call(session, "flows", limit=1))["flows"][0]["id"]
        assert "unknown copy-as-code target 'perl'" in await refused(
            session, "copy_as", flow_id=flow_id, target="perl"
        )
        assert len((await call(session, "sessions"))["sessions"]) == 1

    anyio.run(with_stdio_server, db, tmp_path, talk)
    assert not (tmp_path.parent / "escape.har").exists()


def test_the_http_transport_wants_the_token(tmp_path: Path, upstream: int) -> None:
    db = record_traffic(tmp_path, upstream)
    server = subprocess.Popen(
        [venv_tool("mitmtape"), "--db", str(db), "mcp", "--http", "0"],
        stdout=subprocess.PIPE, text=True, env={**NO_PROXY_ENV, "MITMTAPE_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("mitmtape MCP server on http://127.0.0.1:") and TOKEN in line
        url = line.split()[4]
        assert httpx.post(url, json={}, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert httpx.post(url, json={}, headers=wrong, timeout=10).status_code == 401

        async def talk() -> list[dict[str, Any]]:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with (
                httpx.AsyncClient(headers=auth, timeout=30) as client,
                streamable_http_client(url, http_client=client) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return (await call(session, "sessions"))["sessions"]

        assert [s["flow_count"] for s in anyio.run(talk)] == [4]
        server.send_signal(signal.SIGINT)
        assert server.wait(20) == 0
    finally:
        if server.poll() is None:
            server.kill()
