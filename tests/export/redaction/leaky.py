"""Records with a distinct secret in every place redaction must look (issue 17, item 1), and
a search that finds a secret however an export spells it.

Each secret is a unique word, so a hit can only mean that value leaked. The search looks at
the file raw, URL-decoded, JSON-unescaped (every string of a JSON file), and base64-decoded
(every base64 run, decompressed when it is gzip, deflate, brotli or zstd), as a person would who
wanted the secret; a `.mitm` flow file is also read as mitmproxy shows it (`flow_file_view`).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

from mitmproxy import io as mitmproxy_io
from mitmproxy.net import encoding

from mitmtape.model import Body, FlowRecord, Request, Response, WebSocketMessage

JWT_HEADER = "eyJhbGciOiJIUzI1NiJ9"


def jwt(payload: str, signature: str) -> str:
    """A JWT whose payload (`{"sub":"<payload>"}`) and signature are words we can look for."""
    body = base64.urlsafe_b64encode(json.dumps({"sub": payload}).encode()).decode().rstrip("=")
    return f"{JWT_HEADER}.{body}.{signature}"


# place → secret; a JWT's payload is kept by default (`true`) and only `strict` hides it.
SECRETS: dict[str, str] = {
    "authorization header": "leakAuthBearer01",
    "api key header": "leakApiKey02",
    "csrf header": "leakCsrfHeader03",
    "request cookie": "leakCookieSession04",
    "second request cookie": "leakCookieOther05",
    "set-cookie": "leakSetCookie06",
    "query access_token": "leakQueryToken07",
    "query api_key": "leakQueryApiKey08",
    "location header": "leakLocationCode09",
    "referer header": "leakRefererToken10",
    "content-location header": "leakContentLocationSig11",
    "form password": "leakFormPassword12",
    "multipart client_secret": "leakMultipartSecret13",
    "request json client_secret": "leakJsonClientSecret14",
    "response json refresh_token": "leakJsonRefresh15",
    "websocket json token": "leakWebSocketToken16",
    "jwt signature in a header": "leakJwtHeaderSig17",
    "jwt signature in a body": "leakJwtBodySig18",
    "binary-typed json password": "leakOctetPassword19",
    "gzip json secret": "leakGzipSecret20",
    "base64 text body secret": "leakBase64Secret21",
    "deflate json password": "leakDeflatePassword22",
    "brotli json access_token": "leakBrotliToken23",
    "x-gzip json api_key": "leakXGzipApiKey24",
    "plain json labelled gzip": "leakMislabelledSecret25",
    "websocket binary json sessionid": "leakWebSocketBinary26",
}
JWT_PAYLOADS = ("leakJwtPayloadA", "leakJwtPayloadB")


def _form_and_multipart() -> FlowRecord:
    multipart = (
        '--B0und\r\nContent-Disposition: form-data; name="client_secret"\r\n\r\n'
        f"{SECRETS['multipart client_secret']}\r\n--B0und--\r\n"
    ).encode()
    form = f"user=alice&password={SECRETS['form password']}".encode()
    return FlowRecord(
        request=Request(
            "POST",
            "https://login.example.com/form",
            headers=[("Content-Type", "application/x-www-form-urlencoded")],
            body=Body(form),
        ),
        response=Response(
            200,
            "OK",
            headers=[("Content-Type", "multipart/form-data; boundary=B0und")],
            body=Body(multipart),
        ),
    )


def _headers_query_json() -> FlowRecord:
    s = SECRETS
    url = (
        f"https://api.example.com/v1/me?page=1&access_token={s['query access_token']}"
        f"&api_key={s['query api_key']}"
    )
    request_json = {"client": {"id": "app", "client_secret": s["request json client_secret"]}}
    return FlowRecord(
        request=Request(
            "POST",
            url,
            headers=[
                ("Authorization", f"Bearer {s['authorization header']}"),
                ("X-Api-Key", s["api key header"]),
                ("X-CSRF-Token", s["csrf header"]),
                ("Cookie", f"sid={s['request cookie']}; theme={s['second request cookie']}"),
                ("Referer", f"https://app.example.com/?token={s['referer header']}"),
                ("X-Debug", jwt(JWT_PAYLOADS[0], s["jwt signature in a header"])),
                ("Content-Type", "application/json"),
            ],
            body=Body(json.dumps(request_json).encode()),
        ),
        response=Response(
            302,
            "Found",
            headers=[
                ("Content-Type", "application/json"),
                ("Set-Cookie", f"sid={s['set-cookie']}; Path=/; HttpOnly"),
                ("Location", f"https://app.example.com/cb?code={s['location header']}&state=x"),
                ("Content-Location", f"/v1/me?sig={s['content-location header']}"),
            ],
            body=Body(
                json.dumps({"data": [{"refresh_token": s["response json refresh_token"]}]}).encode()
            ),
        ),
    )


def _bodies() -> FlowRecord:
    s = SECRETS
    page = f"<p>{jwt(JWT_PAYLOADS[1], s['jwt signature in a body'])}</p>".encode()
    return FlowRecord(
        request=Request(
            "PUT",
            "https://files.example.com/blob",
            headers=[("Content-Type", "application/octet-stream")],
            body=Body(json.dumps({"password": s["binary-typed json password"]}).encode()),
        ),
        response=Response(200, "OK", headers=[("Content-Type", "text/html")], body=Body(page)),
    )


def _encoded() -> FlowRecord:
    s = SECRETS
    inner = base64.b64encode(json.dumps({"secret": s["base64 text body secret"]}).encode())
    return FlowRecord(
        request=Request(
            "POST",
            "https://files.example.com/encoded",
            headers=[("Content-Type", "text/plain")],
            body=Body(inner),
        ),
        response=Response(
            200,
            "OK",
            headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
            body=Body(gzip.compress(json.dumps({"secret": s["gzip json secret"]}).encode())),
        ),
    )


def _websocket() -> FlowRecord:
    message = json.dumps({"type": "hello", "token": SECRETS["websocket json token"]}).encode()
    binary = json.dumps({"sessionid": SECRETS["websocket binary json sessionid"]}).encode()
    return FlowRecord(
        request=Request("GET", "https://ws.example.com/socket"),
        response=Response(101, "Switching Protocols"),
        websocket=[
            WebSocketMessage(True, "text", 1.0, message),
            WebSocketMessage(False, "binary", 2.0, binary),
        ],
    )


def _json_body(coding: str, wire: bytes) -> tuple[list[tuple[str, str]], Body]:
    return [("Content-Type", "application/json"), ("Content-Encoding", coding)], Body(wire)


def _compressed() -> FlowRecord:
    """deflate and brotli, which mitmproxy's reader and the formats both undo."""
    s = SECRETS
    sent = json.dumps({"password": s["deflate json password"]}).encode()
    received = json.dumps({"access_token": s["brotli json access_token"]}).encode()
    request_headers, request_body = _json_body("deflate", encoding.encode(sent, "deflate"))
    response_headers, response_body = _json_body("br", encoding.encode(received, "br"))
    return FlowRecord(
        request=Request(
            "POST", "https://codings.example.com/in", headers=request_headers, body=request_body
        ),
        response=Response(200, "OK", headers=response_headers, body=response_body),
    )


def _labelled_oddly() -> FlowRecord:
    """`x-gzip` (gzip by RFC 9110, which no decoder here knows) and a plain body labelled gzip."""
    s = SECRETS
    sent = gzip.compress(json.dumps({"api_key": s["x-gzip json api_key"]}).encode())
    received = json.dumps({"client_secret": s["plain json labelled gzip"]}).encode()
    request_headers, request_body = _json_body("x-gzip", sent)
    response_headers, response_body = _json_body("gzip", received)
    return FlowRecord(
        request=Request(
            "POST", "https://codings.example.com/odd", headers=request_headers, body=request_body
        ),
        response=Response(200, "OK", headers=response_headers, body=response_body),
    )


def leaky_records() -> list[FlowRecord]:
    return [
        _headers_query_json(),
        _form_and_multipart(),
        _bodies(),
        _encoded(),
        _websocket(),
        _compressed(),
        _labelled_oddly(),
    ]


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, str):
        yield value


def _decompressed(data: bytes) -> Iterator[bytes]:
    """The bytes, and what they are once inflated by each content coding that takes them."""
    yield data
    for coding in ("gzip", "deflate", "br", "zstd"):
        try:
            yield encoding.decode(data, coding)
        except ValueError:
            continue


def _base64_decoded(data: bytes) -> Iterator[bytes]:
    for run in _BASE64_RUN.findall(data):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                yield from _decompressed(decode(run + b"=" * (-len(run) % 4)))
            except (binascii.Error, ValueError):
                continue


def readings(data: bytes) -> Iterator[bytes]:
    """The file raw, URL-decoded, JSON-unescaped and base64-decoded."""
    yield data
    text = data.decode("utf-8", "replace")
    yield unquote_plus(text).encode()
    try:
        strings = list(_json_strings(json.loads(text)))
    except ValueError:
        strings = []
    unescaped = "\n".join(strings).encode()
    yield unescaped
    for blob in (data, unescaped):
        yield from _base64_decoded(blob)


def found_in(data: bytes, secrets: Iterator[str] | tuple[str, ...] | list[str]) -> set[str]:
    views = list(readings(data))
    return {secret for secret in secrets if any(secret.encode() in view for view in views)}


def flow_file_view(data: bytes) -> bytes:
    """A `.mitm` file as mitmproxy shows it: each flow's URL and headers, its bodies with their
    `Content-Encoding` undone by `get_content()` (and inflated by hand, for a coding it does not
    know such as `x-gzip`), and its WebSocket messages."""
    seen: list[bytes] = []
    for flow in mitmproxy_io.FlowReader(io.BytesIO(data)).stream():
        seen.append(flow.request.url.encode())
        for message in (flow.request, flow.response):
            if message is not None:
                seen += [bytes(message.headers), message.get_content(strict=False) or b""]
                seen += _decompressed(message.raw_content or b"")
        if flow.websocket is not None:
            seen += [message.content for message in flow.websocket.messages]
    return b"\n".join(seen)
