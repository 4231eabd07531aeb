"""Fixtures for the copy-as-code tests: records, a local echo server, the client tools."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mitmtape.model import Body, FlowRecord, Headers, Request, Response

TOOL_TIMEOUT = 30  # seconds a snippet may run before the test fails
SOCKET_TIMEOUT = 10
STARTED_AT = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def make_record() -> Callable[..., FlowRecord]:
    """Build a record the way the recorder does: bytes as on the wire, headers in order."""

    def make(
        method: str = "GET",
        url: str = "https://api.example.com/v1/items",
        headers: Headers | None = None,
        body: bytes = b"",
        response: Response | None = None,
        **fields: object,
    ) -> FlowRecord:
        request = Request(method=method, url=url, headers=list(headers or []), body=Body(body))
        return FlowRecord(request=request, response=response, started_at=STARTED_AT, **fields)

    return make


@dataclass(frozen=True)
class Received:
    """One request as the echo server saw it on the socket."""

    method: str
    target: str
    headers: Headers
    body: bytes


class _EchoHandler(socketserver.StreamRequestHandler):
    """Reads one HTTP/1.1 request byte for byte, keeps it, answers `200 {}` and closes."""

    timeout = SOCKET_TIMEOUT

    def handle(self) -> None:
        method, target, _ = self.rfile.readline(65_537).decode("latin-1").split(" ", 2)
        headers = self._headers()
        if _first(headers, "expect") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if _first(headers, "transfer-encoding") == "chunked":
            body = self._chunked()
        else:
            body = self.rfile.read(int(_first(headers, "content-length") or 0))
        self.server.keep(Received(method, target, headers, body))  # type: ignore[attr-defined]
        payload = b"" if method == "HEAD" else b"{}"
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n" + payload
        )

    def _headers(self) -> Headers:
        headers: Headers = []
        while (line := self.rfile.readline(65_537).rstrip(b"\r\n")) != b"":
            name, _, value = line.partition(b":")
            text = value.strip(b" \t").decode("utf-8", "surrogateescape")
            headers.append((name.decode("latin-1"), text))
        return headers

    def _chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline(1024).split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline(1024)
        while self.rfile.readline(65_537).rstrip(b"\r\n"):
            pass  # trailers
        return body


def _first(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


class EchoServer(socketserver.ThreadingTCPServer):
    """Keeps what it receives under the first path segment, so each run finds its own."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self._lock = threading.Lock()
        self._received: dict[str, list[Received]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keep(self, received: Received) -> None:
        key = received.target.split("/")[1].split("?")[0]
        with self._lock:
            self._received.setdefault(key, []).append(received)

    def take(self, key: str) -> list[Received]:
        with self._lock:
            return self._received.pop(key, [])


@pytest.fixture(scope="session")
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Tool:
    """How to run one target's snippet, and what to install when that is not possible."""

    file_name: str
    command: list[str]
    missing: str | None  # None when the tool is there; else what to install
    wrap: Callable[[str], str] = lambda snippet: snippet + "\n"


def _node_wrap(snippet: str) -> str:
    """An ES module awaits the top-level `await`; exit non-zero on any error."""
    return (
        f"try {{\n{snippet}\n}} catch (error) {{\n  console.error(error);\n  process.exit(1);\n}}\n"
    )


def _node_missing() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node not found on PATH: install Node.js 18 or newer (apt-get install nodejs)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
    major = re.match(r"v(\d+)", version.stdout.strip())
    if not major or int(major[1]) < 18:
        return f"node {version.stdout.strip()} has no global fetch: install Node.js 18 or newer"
    return None


def _httpie_missing(http: Path) -> str | None:
    install = f"pip install 'httpie>=3.2' into {Path(sys.executable).parent.parent}"
    if not http.exists():
        return f"HTTPie's `http` not found next to {sys.executable}: {install}"
    version = subprocess.run([http, "--version"], capture_output=True, text=True, timeout=30)
    found = tuple(int(part) for part in re.findall(r"\d+", version.stdout)[:2])
    return None if found >= (3, 2) else f"HTTPie {version.stdout.strip()} lacks --raw: {install}"


@pytest.fixture(scope="session")
def tools() -> dict[str, Tool]:
    bash = shutil.which("bash")
    no_bash = "bash not found on PATH: install bash"
    no_curl = "curl not found on PATH: install curl (apt-get install curl)"
    no_requests = f"requests is not importable by {sys.executable}: pip install requests"
    http = Path(sys.executable).parent / "http"
    return {
        "curl": Tool(
            "snippet.sh",
            [bash or "bash"],
            no_bash if bash is None else (no_curl if shutil.which("curl") is None else None),
        ),
        "fetch": Tool("snippet.mjs", ["node"], _node_missing(), _node_wrap),
        "python": Tool(
            "snippet.py",
            [sys.executable],
            None if importlib.util.find_spec("requests") else no_requests,
        ),
        "httpie": Tool(
            "snippet.sh", [bash or "bash"], no_bash if bash is None else _httpie_missing(http)
        ),
    }


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No proxies, no user config (~/.curlrc, HTTPie's), HTTPie never looks for updates."""
    home = tmp_path_factory.mktemp("home")
    httpie_config = home / "httpie"
    httpie_config.mkdir()
    (httpie_config / "config.json").write_text('{"disable_update_warnings": true}\n')
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.pop("NODE_OPTIONS", None)
    env.update(
        HOME=str(home),
        CURL_HOME=str(home),
        HTTPIE_CONFIG_DIR=str(httpie_config),
        NO_PROXY="*",
        no_proxy="*",
        PYTHONUTF8="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


@pytest.fixture
def run_snippet(
    tools: dict[str, Tool], tool_env: dict[str, str], tmp_path: Path
) -> Callable[[str, str], subprocess.CompletedProcess[str]]:
    """Run a snippet as a user would; a missing tool fails the test with what to install."""

    def run(tool_name: str, snippet: str) -> subprocess.CompletedProcess[str]:
        tool = tools[tool_name]
        if tool.missing:
            pytest.fail(tool.missing, pytrace=False)
        path = tmp_path / tool.file_name
        path.write_text(tool.wrap(snippet), encoding="utf-8")
        return subprocess.run(
            [*tool.command, str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            env=tool_env,
            cwd=tmp_path,
            timeout=TOOL_TIMEOUT,
        )

    return run
