"""Every generated snippet, run with the real client, sends the recorded request.

Each snippet runs against a local echo server (127.0.0.1 only) and what arrived there is
compared with the recorded request field by field:
- method, exactly;
- path and query, byte for byte, except where a case documents what a client cannot help
  rewriting (`expected_target`);
- headers: every recorded header except the hop-by-hop ones arrives with the same value
  (names compared case-insensitively, as HTTP does). Clients add their own defaults (curl and
  requests: User-Agent, Accept...; fetch: Accept-Language, Sec-Fetch-Mode...), so recorded ⊆
  received is checked. fetch keeps the first value of a repeated header (spec); requests takes
  a dict, so its snippet joins repeated values with `, ` (`; ` for Cookie). The HTTPie snippet
  unsets HTTPie's own User-Agent, Accept and Accept-Encoding when none was recorded, so for it
  those are also checked to be absent;
- body, byte for byte. Binary bodies are left out by curl, fetch and HTTPie (spec), so those
  must arrive empty; the Python snippet sends them exactly. fetch cannot send a body with GET or
  HEAD, so it must arrive empty there too.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

import pytest

from mitmtape.codegen import generate
from mitmtape.codegen.common import SKIPPED_HEADERS
from mitmtape.model import Headers

HTTPIE_DEFAULTS = ("user-agent", "accept", "accept-encoding")
# Skipped headers that every client writes again itself, to frame its own message.
CLIENT_FRAMING = {"content-length", "connection", "transfer-encoding"}
RUNNABLE_TARGETS = ("curl", "fetch", "python", "httpie")
MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nHello\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\r\n--XyZ--\r\n"
)
TRICKY_TEXT = 'héllo wörld ✓ 日本語 🎉\nit\'s "quoted" $HOME `id` !! \\n tab\there\n'


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    target: str  # path and query after the run's own first segment
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    binary: bool = False  # the spec's text detection says binary
    expected_target: dict[str, str] = field(default_factory=dict)  # client → what it sends


CORPUS = [
    Case(
        "get-repeated-query",
        "GET",
        "/search?tag=a&tag=b&tag=a&page=2&empty=&flag",
        [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"), ("Accept", "text/html,*/*;q=0.8")],
    ),
    Case(
        "get-bracket-query",
        "GET",
        "/items?ids[]=1&ids[]=2&filter[name]=x",
        [("Accept", "application/json")],
        # urllib3 percent-encodes brackets in every request it sends (requests and HTTPie).
        expected_target={
            client: "/items?ids%5B%5D=1&ids%5B%5D=2&filter%5Bname%5D=x"
            for client in ("python", "httpie")
        },
    ),
    Case(
        "post-json-compact",
        "POST",
        "/api/users",
        [("Content-Type", "application/json"), ("Accept", "application/json")],
        '{"name":"Zoë ✓","tags":["a","b"],"score":1.5,"ok":true,"parent":null,"n":-42}'.encode(),
    ),
    Case(
        "post-json-python-style",
        "POST",
        "/api/items",
        [("Content-Type", "application/json; charset=utf-8")],
        json.dumps({"name": "Zoë", "nested": {"k": [1, 2.25]}, "ok": False}).encode(),
    ),
    Case(
        "post-json-unsafe-for-javascript",
        "POST",
        "/api/raw",
        [("Content-Type", "application/json")],
        b'{"__proto__":{"x":1},"big":12345678901234567890,"f":1.0,"e":1e-7}',
    ),
    Case(
        "post-form",
        "POST",
        "/login",
        [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://a.example")],
        b"user=jo&pass=p%26ss+word%3D%3F&a=1&a=2",
    ),
    Case(
        "post-multipart",
        "POST",
        "/upload",
        [("Content-Type", "multipart/form-data; boundary=XyZ")],
        MULTIPART,
        binary=True,
    ),
    Case(
        "put-non-ascii-text",
        "PUT",
        "/notes/1",
        [("Content-Type", "text/plain; charset=utf-8")],
        TRICKY_TEXT.encode(),
    ),
    Case("delete-with-bearer", "DELETE", "/api/users/7", [("Authorization", "Bearer abc.def")]),
    Case(
        "custom-method-xml",
        "PROPFIND",
        "/dav/folder/",
        [("Depth", "1"), ("Content-Type", "application/xml")],
        b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>',
    ),
    Case(
        "tricky-header-values",
        "GET",
        "/headers",
        [
            ("X-Spaces", "a  b   c"),
            ("X-Quotes", 'it\'s "quoted"'),
            ("X-Dollar", "$HOME ${PATH} $(id)"),
            ("X-Backtick", "`id` and `uname`"),
            ("X-Bang", "!!wow! !$"),
            ("X-Unicode", "café ✓ 日本 🎉"),
            ("X-Backslash", "C:\\temp\\new"),
            ("X-Leading-Equals", "=x=y"),
            ("X-Leading-At", "@file.txt"),
            ("X-Separators", "a:b;c=d@e:=f"),
            ("X-Percent", "100%"),
        ],
    ),
    Case(
        "empty-and-repeated-headers",
        "GET",
        "/multi",
        [("X-Empty", ""), ("X-Multi", "1"), ("X-Multi", "2"), ("Cookie", "a=1"), ("Cookie", "b=2")],
    ),
    Case(
        "empty-body-with-content-type",
        "POST",
        "/empty",
        [("Content-Type", "application/json")],
    ),
    Case(
        "percent-escapes",
        "GET",
        "/files/caf%C3%A9%20menu%2Fv1.pdf?q=a%26b&q=%E2%9C%93&sum=1%2B1&sp=a+b",
    ),
    Case(
        "unreserved-escapes-and-dot-segments",
        "GET",
        "/%7Ejane/./docs/../a%41b?x=1",
        # The WHATWG URL parser behind fetch always squashes dot segments.
        expected_target={"fetch": "/%7Ejane/a%41b?x=1"},
    ),
    Case(
        "binary-octet-stream",
        "POST",
        "/blob",
        [("Content-Type", "application/octet-stream")],
        bytes(range(256)),
        binary=True,
    ),
    Case(
        "gzip-encoded-json",
        "POST",
        "/gz",
        [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
        gzip.compress(b'{"a":1}', mtime=0),
        binary=True,
    ),
    Case(
        "patch-json-array",
        "PATCH",
        "/batch",
        [("Content-Type", "application/json-patch+json")],
        b'[{"op":"replace","path":"/a","value":1}]',
    ),
    Case(
        "get-with-json-body",
        "GET",
        "/_search",
        [("Content-Type", "application/json")],
        b'{"query":{"match_all":{}}}',
    ),
    Case("head", "HEAD", "/status", [("Accept", "*/*"), ("User-Agent", "probe/1")]),
    Case(
        "options-preflight",
        "OPTIONS",
        "/api",
        [("Origin", "https://a.example"), ("Access-Control-Request-Method", "POST")],
    ),
    Case(
        "hop-by-hop-headers-left-out",
        "POST",
        "/hop",
        [
            ("Host", "recorded.invalid"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Content-Length", "5"),
            ("Proxy-Authorization", "Basic c2VjcmV0"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Content-Type", "text/plain"),
            ("X-Kept", "yes"),
        ],
        b"hello",
    ),
]


def _expected_headers(client: str, headers: Headers) -> Headers:
    kept = [(name.lower(), value) for name, value in headers if name.lower() not in SKIPPED_HEADERS]
    if client == "fetch":
        return [pair for i, pair in enumerate(kept) if pair[0] not in {n for n, _ in kept[:i]}]
    if client == "python":
        names = dict.fromkeys(name for name, _ in kept)
        joined = {name: "; " if name == "cookie" else ", " for name in names}
        return [(n, joined[n].join(v for k, v in kept if k == n)) for n in names]
    return kept


def _expected_body(client: str, case: Case) -> bytes:
    if case.binary and client != "python":
        return b""
    if client == "fetch" and case.method in ("GET", "HEAD"):
        return b""
    return case.body


@pytest.mark.parametrize("client", RUNNABLE_TARGETS)
@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_snippet_sends_the_recorded_request(
    client, case, echo_server, make_record, run_snippet
) -> None:
    key = f"{client}-{case.id}"
    url = f"{echo_server.base_url}/{key}{case.target}"
    record = make_record(method=case.method, url=url, headers=case.headers, body=case.body)
    snippet = generate(client, record)

    result = run_snippet(client, snippet)

    assert result.returncode == 0, f"{client} failed:\n{snippet}\n{result.stderr}"
    received = echo_server.take(key)
    assert len(received) == 1, f"expected one request, got {len(received)}:\n{snippet}"
    got = received[0]
    assert got.method == case.method
    expected_target = case.expected_target.get(client, case.target)
    assert got.target == f"/{key}{expected_target}"
    got_headers = [(name.lower(), value) for name, value in got.headers]
    for pair in _expected_headers(client, case.headers):
        assert pair in got_headers, f"{pair} not received; got {got.headers}\n{snippet}"
    assert got.body == _expected_body(client, case), snippet
    assert not _leaked(client, case, got_headers), snippet


def _leaked(client: str, case: Case, got_headers: Headers) -> Headers:
    """Received headers the snippet should have kept out: recorded hop-by-hop values (framing
    aside) and, for HTTPie, its defaults when the recording had none."""
    recorded = [(name.lower(), value) for name, value in case.headers]
    hop_by_hop = [pair for pair in recorded if pair[0] in SKIPPED_HEADERS - CLIENT_FRAMING]
    unset = set(HTTPIE_DEFAULTS) - {name for name, _ in recorded} if client == "httpie" else set()
    return [pair for pair in got_headers if pair in hop_by_hop or pair[0] in unset]
