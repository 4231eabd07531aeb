"""Make the real HAR files in `sample_captures/` with real tools, on 127.0.0.1 only.

1. `chromium-playwright.har`: headless Chromium driven by Playwright, `record_har_path`.
2. `mitmproxy-savehar.har`: the same page in Chromium through `mitmdump --set hardump=...`
   (only 127.0.0.1 flows kept, so Chromium's own background requests stay out), plus one
   request to a closed port (a flow that fails).

Needs `playwright` (Python) and Debian's chromium (or $MITMTAPE_CHROMIUM); never downloads
a browser. Run: python scripts/make_sample_captures.py [output folder]
"""

from __future__ import annotations

import contextlib
import gzip
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright
from websockets.sync.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' chromium and ports
from tests.browser import launch_chromium
from tests.ports import free_port

HOST = "127.0.0.1"
ITEMS = {"items": [{"id": 1, "name": "tape"}, {"id": 2, "name": "reel"}]}
GZIP_TEXT = "compressed hello " * 20
PAGE = """<!doctype html>
<html><head><title>loading</title><link rel="icon" href="data:,"></head>
<body><img src="/pixel.png" alt="pixel">
<script>
async function run() {
  await fetch("/api/items").then((r) => r.json());
  await fetch("/api/echo", {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify({hello: "world"})}).then((r) => r.text());
  await fetch("/redirect").then((r) => r.text());
  await fetch("/gzip").then((r) => r.text());
  await fetch("/form", {method: "POST", body: new URLSearchParams({a: "1", b: "two words"})});
  const ws = new WebSocket("ws://127.0.0.1:WS_PORT/ws");
  ws.binaryType = "arraybuffer";
  let seen = 0;
  ws.onopen = () => ws.send("hello tape");
  ws.onmessage = () => {
    seen += 1;
    if (seen === 1) ws.send(new Uint8Array([0, 1, 2, 255]));
    else { ws.close(); document.title = "done"; }
  };
}
run();
</script></body></html>
"""


def png_pixel() -> bytes:
    """A valid 1×1 PNG, built here so the sample holds a real binary body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ws_port = 0

    def log_message(self, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            page = PAGE.replace("WS_PORT", str(self.ws_port)).encode()
            self.send(200, page, "text/html; charset=utf-8")
        elif path == "/api/items":
            self.send(200, json.dumps(ITEMS).encode(), "application/json")
        elif path == "/pixel.png":
            self.send(200, png_pixel(), "image/png")
        elif path == "/redirect":
            self.send(302, b"", "text/plain", {"Location": "/api/items?from=redirect"})
        elif path == "/gzip":
            body = gzip.compress(GZIP_TEXT.encode(), mtime=0)
            self.send(200, body, "text/plain; charset=utf-8", {"Content-Encoding": "gzip"})
        else:
            self.send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send(200, body, self.headers.get("Content-Type") or "application/octet-stream")


def echo_twice(connection: ServerConnection) -> None:
    for message in connection:
        connection.send(message)


def browse(url: str, har: Path | None, proxy_port: int | None) -> None:
    args = []
    if proxy_port:
        # Chromium never proxies loopback unless told to with <-loopback>.
        args = [f"--proxy-server=http://{HOST}:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, args)
        context = browser.new_context(record_har_path=str(har)) if har else browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("document.title === 'done'", timeout=15_000)
        page.wait_for_timeout(300)
        context.close()
        browser.close()


def through_mitmdump(url: str, har: Path) -> None:
    port = free_port()
    mitmdump = Path(sys.executable).with_name("mitmdump")
    proxy = subprocess.Popen(
        [
            str(mitmdump),
            "-q",
            *("--listen-host", HOST, "--listen-port", str(port)),
            *("--set", f"hardump={har}", "--set", f"save_stream_filter=~d {HOST}"),
        ],
    )
    try:
        wait_for_port(port)
        browse(url, None, port)
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": f"http://{HOST}:{port}"})
        )
        # The proxy answers 502: the flow fails, which is what the sample wants.
        with contextlib.suppress(OSError):
            opener.open(f"http://{HOST}:{free_port()}/closed", timeout=10)
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=30)


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port}")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "sample_captures")
    out.mkdir(parents=True, exist_ok=True)
    with serve(echo_twice, HOST, 0) as ws_server:
        Handler.ws_port = ws_server.socket.getsockname()[1]
        threading.Thread(target=ws_server.serve_forever, daemon=True).start()
        http_server = ThreadingHTTPServer((HOST, 0), Handler)
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        url = f"http://{HOST}:{http_server.server_address[1]}/"
        browse(url, out / "chromium-playwright.har", None)
        through_mitmdump(url, out / "mitmproxy-savehar.har")
        http_server.shutdown()
        ws_server.shutdown()
    for name in ("chromium-playwright.har", "mitmproxy-savehar.har"):
        print(f"{name}: {(out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
