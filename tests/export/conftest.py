"""Records for the export tests: one of every kind of traffic a writer has to get right.

Fixtures are generic (`varied_records`, `record_kinds`, `secret_record`, `export_context`,
`run_export`) so any export test, the report's too, can use them.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pytest

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.export.redaction import RedactMode, Tally, redacted, redaction_for
from mitmtape.model import (
    Body,
    FlowRecord,
    Request,
    Response,
    Session,
    Timings,
    WebSocketMessage,
)

START = datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256))
GZIP_TEXT = "<html><body>" + "hello gzip " * 200 + "</body></html>"

# Every value `record_with_secrets` carries in a header that redaction must mask.
SECRET_VALUES = (
    "s3cr3t-bearer-token",
    "dXNlcjpiYXNpYy1zZWNyZXQ=",
    "proxy-s3cr3t",
    "session-s3cr3t",
    "csrf-s3cr3t",
    "set-s3cr3t-one",
    "set-s3cr3t-two",
    "api-key-s3cr3t",
    "auth-token-s3cr3t",
)


def _at(seconds: int) -> datetime:
    return START + timedelta(seconds=seconds)


def _timings() -> Timings:
    return Timings(dns=1500, connect=2500, ssl=3500, send=250, wait=42000, receive=1250)


def get_with_query() -> FlowRecord:
    return FlowRecord(
        started_at=_at(0),
        duration_ms=51.234,
        request=Request(
            "GET",
            "https://api.example.com/v1/items?page=2&sort=name&tag=a&tag=b&empty=&q=caf%C3%A9",
            headers=[("Host", "api.example.com"), ("Accept", "application/json")],
        ),
        response=Response(
            200,
            "OK",
            headers=[("Content-Type", "application/json"), ("Content-Length", "11")],
            body=Body(b'{"items":1}'),
        ),
        timings=_timings(),
        tags=["api", "list"],
        metadata={"comment": "first page"},
        client={"host": "127.0.0.1", "port": 50123},
        server={"host": "api.example.com", "port": 443, "ip": "93.184.216.34"},
    )


def post_json() -> FlowRecord:
    body = b'{"name": "widget", "count": 3}'
    return FlowRecord(
        started_at=_at(1),
        duration_ms=120.0,
        request=Request(
            "POST",
            "https://api.example.com/v1/items",
            headers=[
                ("Host", "api.example.com"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "keep-alive"),
            ],
            body=Body(body),
        ),
        response=Response(
            201,
            "Created",
            headers=[("Content-Type", "application/json; charset=utf-8")],
            body=Body(b'{"id": 7}'),
        ),
        timings=Timings(send=100, wait=-1, receive=-1),
    )


def form_post() -> FlowRecord:
    body = b"user=alice&note=a+b%26c&empty="
    return FlowRecord(
        started_at=_at(2),
        duration_ms=33.3,
        request=Request(
            "POST",
            "http://forms.example.com/login",
            headers=[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", str(len(body))),
            ],
            body=Body(body),
        ),
        response=Response(204, "No Content"),
    )


def gzip_text_response() -> FlowRecord:
    wire = gzip.compress(GZIP_TEXT.encode())
    return FlowRecord(
        started_at=_at(3),
        duration_ms=80.0,
        request=Request("GET", "https://www.example.com/page.html"),
        response=Response(
            200,
            "OK",
            headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", str(len(wire))),
            ],
            body=Body(wire),
        ),
    )


def binary_image_response() -> FlowRecord:
    return FlowRecord(
        started_at=_at(4),
        duration_ms=12.5,
        request=Request(
            "PUT",
            "https://cdn.example.com/upload/logo.png",
            headers=[("Content-Type", "image/png"), ("Content-Length", str(len(PNG)))],
            body=Body(PNG),
        ),
        response=Response(
            200,
            "OK",
            headers=[("Content-Type", "image/png"), ("Content-Length", str(len(PNG)))],
            body=Body(PNG),
        ),
    )


def failed_no_response() -> FlowRecord:
    return FlowRecord(
        started_at=_at(5),
        request=Request("GET", "https://down.example.com/health"),
        error="Connection refused",
        timings=Timings(connect=-1, send=300),
    )


def no_response_no_error() -> FlowRecord:
    return FlowRecord(started_at=_at(6), request=Request("GET", "https://slow.example.com/"))


def websocket_flow() -> FlowRecord:
    return FlowRecord(
        started_at=_at(7),
        duration_ms=5.0,
        request=Request(
            "GET",
            "https://ws.example.com/socket",
            headers=[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ],
        ),
        response=Response(
            101,
            "Switching Protocols",
            headers=[("Connection", "Upgrade"), ("Upgrade", "websocket")],
        ),
        websocket=[
            WebSocketMessage(True, "text", 1705314607.5, b"hello server"),
            WebSocketMessage(False, "text", 1705314607.75, "héllo client".encode()),
            WebSocketMessage(False, "binary", 1705314608.0, b"\x00\x01\xfe\xff"),
        ],
    )


def repeated_headers() -> FlowRecord:
    return FlowRecord(
        started_at=_at(8),
        duration_ms=7.0,
        request=Request(
            "GET",
            "https://api.example.com/multi",
            headers=[("Accept", "text/html"), ("X-Trace", "1"), ("Accept", "application/xml")],
        ),
        response=Response(
            200,
            "OK",
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Vary", "Accept"),
                ("Vary", "Origin"),
            ],
            body=Body(b"multi"),
        ),
    )


def with_cookies() -> FlowRecord:
    return FlowRecord(
        started_at=_at(9),
        duration_ms=9.0,
        request=Request(
            "GET",
            "https://shop.example.com/cart",
            headers=[("Cookie", "theme=dark; lang=en"), ("Cookie", "ab=1")],
        ),
        response=Response(
            200,
            "OK",
            headers=[
                ("Content-Type", "text/plain"),
                (
                    "Set-Cookie",
                    "cart=42; Path=/cart; Domain=shop.example.com; "
                    "Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure",
                ),
                ("Set-Cookie", "seen=yes; Max-Age=3600"),
                ("Set-Cookie", "plain=1"),
            ],
            body=Body(b"cart"),
        ),
    )


def redirect() -> FlowRecord:
    return FlowRecord(
        started_at=_at(10),
        duration_ms=3.0,
        request=Request("GET", "http://example.com/old"),
        response=Response(
            301, "Moved Permanently", headers=[("Location", "https://example.com/new")]
        ),
    )


def non_ascii() -> FlowRecord:
    body = '{"name": "Zoë", "city": "Kraków", "emoji": "🎉"}'.encode()
    return FlowRecord(
        started_at=_at(11),
        duration_ms=15.0,
        request=Request(
            "POST",
            "https://api.example.com/v1/people/ñandú?q=%E2%9C%93",
            headers=[("Content-Type", "application/json; charset=utf-8"), ("X-Name", "Zoë")],
            body=Body(body),
        ),
        response=Response(
            200,
            "OK",
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            body=Body("Grüße, 世界 🎉".encode()),
        ),
        tags=["ünïcode"],
    )


def record_with_secrets() -> FlowRecord:
    """Credentials in every header redaction covers, in all their usual shapes."""
    return FlowRecord(
        started_at=_at(12),
        duration_ms=20.0,
        request=Request(
            "POST",
            "https://secure.example.com/v1/account",
            headers=[
                ("Authorization", "Bearer s3cr3t-bearer-token"),
                ("authorization", "Basic dXNlcjpiYXNpYy1zZWNyZXQ="),
                ("Proxy-Authorization", "Basic proxy-s3cr3t"),
                ("Cookie", "session=session-s3cr3t; csrf=csrf-s3cr3t"),
                ("X-API-Key", "api-key-s3cr3t"),
                ("X-Auth-Token", "auth-token-s3cr3t"),
                ("Content-Type", "application/json"),
            ],
            body=Body(b'{"ok": true}'),
        ),
        response=Response(
            200,
            "OK",
            headers=[
                ("Content-Type", "application/json"),
                (
                    "Set-Cookie",
                    "sid=set-s3cr3t-one; Path=/; Domain=example.com; HttpOnly; Secure; "
                    "SameSite=Lax",
                ),
                ("Set-Cookie", "remember=set-s3cr3t-two; Max-Age=60"),
            ],
            body=Body(b'{"ok": true}'),
        ),
    )


RECORD_KINDS: dict[str, Callable[[], FlowRecord]] = {
    "get_with_query": get_with_query,
    "post_json": post_json,
    "form_post": form_post,
    "gzip_text_response": gzip_text_response,
    "binary_image_response": binary_image_response,
    "failed_no_response": failed_no_response,
    "no_response_no_error": no_response_no_error,
    "websocket_flow": websocket_flow,
    "repeated_headers": repeated_headers,
    "with_cookies": with_cookies,
    "redirect": redirect,
    "non_ascii": non_ascii,
    "record_with_secrets": record_with_secrets,
}


@pytest.fixture
def record_kinds() -> dict[str, FlowRecord]:
    """One fresh record of each kind, by name."""
    return {name: make() for name, make in RECORD_KINDS.items()}


@pytest.fixture
def varied_records(record_kinds: dict[str, FlowRecord]) -> list[FlowRecord]:
    """Every kind of record, oldest first."""
    return sorted(record_kinds.values(), key=lambda record: record.started_at)


@pytest.fixture
def secret_record() -> FlowRecord:
    return record_with_secrets()


@pytest.fixture
def secret_values() -> tuple[str, ...]:
    return SECRET_VALUES


@pytest.fixture
def export_session() -> Session:
    return Session(id="01HWRFQP3K5M9TGWQX7Z000000", name="API Tests")


@pytest.fixture
def export_context(export_session: Session) -> Callable[..., ExportContext]:
    """Build the context a writer gets."""

    def make() -> ExportContext:
        return ExportContext(session=export_session, exported_at=START)

    return make


@pytest.fixture
def run_export(export_context: Callable[..., ExportContext]) -> Callable[..., str]:
    """Run a format's writer over records into a string, as the pipeline would (redacting
    them first when asked, as the pipeline does)."""

    def run(fmt: ExportFormat, records: Iterable[FlowRecord], redact: RedactMode = False) -> str:
        out = io.StringIO(newline="")
        redaction = redaction_for(redact)
        handed = iter(records) if redaction is None else redacted(records, redaction, Tally())
        fmt.write(out, handed, export_context())
        return out.getvalue()

    return run
