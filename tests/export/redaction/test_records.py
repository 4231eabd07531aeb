"""Redaction of a record, place by place (issue 17, item 1), and what it says it did."""

from __future__ import annotations

import base64
import bz2
import gzip
import json
from collections.abc import Callable

import pytest
from mitmproxy.net import encoding

from mitmtape.capture.record import record_to_flow
from mitmtape.export.redaction import Redaction, Tally, redact_record
from mitmtape.model import Body, FlowRecord, Request, Response, WebSocketMessage

JWT_HEAD = "eyJhbGciOiJIUzI1NiJ9"
JWT_BODY = "eyJzdWIiOiIxMjMifQ"
JWT_SIGNATURE = "c2lnbmF0dXJlLXNlY3JldA"
JWT = f"{JWT_HEAD}.{JWT_BODY}.{JWT_SIGNATURE}"


def redact(record: FlowRecord, **asked) -> tuple[FlowRecord, dict[str, int]]:
    tally = Tally()
    return redact_record(record, Redaction(**asked), tally), tally.as_json()


def request(url: str = "https://api.example.com/", **fields) -> FlowRecord:
    return FlowRecord(request=Request("POST", url, **fields))


def response(headers, body: bytes = b"") -> FlowRecord:
    return FlowRecord(
        request=Request("GET", "https://api.example.com/"),
        response=Response(200, "OK", headers=headers, body=Body(body)),
    )


@pytest.mark.parametrize(
    "name",
    ["Authorization", "proxy-authorization", "X-Api-Key", "x-auth-token", "X-CSRF-Token"],
)
def test_a_secret_header_is_masked_and_counted(name: str) -> None:
    done, counts = redact(request(headers=[(name, "hunter2")]))
    assert done.request.headers == [(name, "***")]
    assert counts["headers"] == 1


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("Bearer abc", "Bearer ***"),
        ("bearer abc", "Bearer ***"),
        ("Basic dXNlcg==", "Basic ***"),
        ("Bearer", "Bearer ***"),
        ("abc", "***"),
    ],
)
def test_an_authorization_scheme_is_kept_in_front_of_the_mask(value: str, masked: str) -> None:
    done, _ = redact(request(headers=[("Authorization", value)]))
    assert done.request.headers == [("Authorization", masked)]


def test_other_headers_keep_value_order_and_repeats() -> None:
    headers = [("Accept", "a"), ("Cookie", "x=1"), ("Accept", "b"), ("X-Trace", "t")]
    done, _ = redact(request(headers=headers))
    assert done.request.headers == [
        ("Accept", "a"),
        ("Cookie", "x=***"),
        ("Accept", "b"),
        ("X-Trace", "t"),
    ]


@pytest.mark.parametrize(
    ("value", "masked", "cookies"),
    [
        ("session=s3; csrf=x", "session=***; csrf=***", 2),
        ("  a = 1 ;;b=", "a=***; b=***", 2),
        ("bare-token", "***", 1),
    ],
)
def test_every_request_cookie_loses_its_value_and_keeps_its_name(value, masked, cookies) -> None:
    # The spec (section 3): cookie values become `***`, in the header and in HAR cookie lists;
    # the names stay, so a HAR's cookie list still says which cookies were sent.
    done, counts = redact(request(headers=[("Cookie", value)]))
    assert done.request.headers == [("Cookie", masked)]
    assert counts["cookies"] == cookies


def test_a_set_cookie_keeps_its_name_and_attributes() -> None:
    done, counts = redact(response([("Set-Cookie", "sid=s3; Path=/; HttpOnly")]))
    assert done.response.headers == [("Set-Cookie", "sid=***; Path=/; HttpOnly")]
    assert counts["cookies"] == 1


def test_secret_query_parameters_are_masked_in_the_url_and_the_path() -> None:
    url = "https://api.example.com/v1?page=2&access_token=tok-s3&API_KEY=key-s3&q=a+b"
    record = request(url)
    record.request.path = "/v1?page=2&access_token=tok-s3&API_KEY=key-s3&q=a+b"
    done, counts = redact(record)
    assert (
        done.request.url == "https://api.example.com/v1?page=2&access_token=***&API_KEY=***&q=a+b"
    )
    assert done.request.path == "/v1?page=2&access_token=***&API_KEY=***&q=a+b"
    assert counts["query_parameters"] == 2


@pytest.mark.parametrize("name", ["Location", "Referer", "Content-Location"])
def test_url_valued_headers_lose_their_secret_parameters_and_fragment_tokens(name) -> None:
    value = "https://app.example.com/cb?code=oauth-s3&state=1#access_token=frag-s3"
    done, counts = redact(response([(name, value)]))
    assert done.response.headers == [
        (name, "https://app.example.com/cb?code=***&state=1#access_token=***")
    ]
    assert counts["query_parameters"] == 2


def test_a_form_body_keeps_its_form_and_loses_its_secret_fields() -> None:
    body = b"user=alice&password=pw-s3&client_secret=cs%2Ds3&note=a+b"
    record = request(
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", str(len(body))),
        ],
        body=Body(body),
    )
    done, counts = redact(record)
    assert done.request.body.data == b"user=alice&password=***&client_secret=***&note=a+b"
    assert ("Content-Length", str(len(done.request.body.data))) in done.request.headers
    assert counts["body_fields"] == 2


def test_a_multipart_field_with_a_secret_name_loses_its_value_and_a_file_part_is_kept() -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="password"\r\n\r\npw-s3\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
        b"\xff\x00\xfe\r\n--XyZ--\r\n"
    )
    record = request(
        headers=[("Content-Type", "multipart/form-data; boundary=XyZ")], body=Body(body)
    )
    done, counts = redact(record)
    assert b"pw-s3" not in done.request.body.data
    assert b'name="password"\r\n\r\n***\r\n' in done.request.body.data
    assert b"\xff\x00\xfe" in done.request.body.data
    assert counts["body_fields"] == 1


def test_json_bodies_are_masked_at_any_depth_and_stay_json() -> None:
    body = {
        "user": {"profile": {"password": "pw-s3", "name": "a"}},
        "items": [{"cvv": 123}],
        "auth": {"nested": "whole"},
        "empty_token": "",
    }
    record = request(
        headers=[("Content-Type", "application/json")], body=Body(json.dumps(body).encode())
    )
    done, counts = redact(record)
    assert json.loads(done.request.body.data) == {
        "user": {"profile": {"password": "***", "name": "a"}},
        "items": [{"cvv": "***"}],
        "auth": "***",
        "empty_token": "",
    }
    assert counts["body_fields"] == 3


def test_json_is_searched_whatever_the_content_type_says_and_through_gzip() -> None:
    wire = gzip.compress(b'{"refresh_token": "rt-s3"}')
    record = response([("Content-Type", "text/plain"), ("Content-Encoding", "gzip")], wire)
    done, _ = redact(record)
    assert json.loads(gzip.decompress(done.response.body.data)) == {"refresh_token": "***"}


def _coded(*codings: str) -> Callable[[bytes], bytes]:
    def wire(data: bytes) -> bytes:
        for coding in codings:
            data = encoding.encode(data, coding)
        return data

    return wire


def _as_is(data: bytes) -> bytes:
    return data


# Content-Encoding lines, how the body was put on the wire, and how a person gets it back.
CODINGS = {
    "deflate": (["deflate"], _coded("deflate"), lambda d: encoding.decode(d, "deflate")),
    "brotli": (["br"], _coded("br"), lambda d: encoding.decode(d, "br")),
    "zstd": (["zstd"], _coded("zstd"), lambda d: encoding.decode(d, "zstd")),
    "two lines": (
        ["gzip", "br"],
        _coded("gzip", "br"),
        lambda d: gzip.decompress(encoding.decode(d, "br")),
    ),
    "x-gzip (RFC 9110)": (["x-gzip"], gzip.compress, gzip.decompress),
    "none": (["none"], _as_is, _as_is),
    "plain text labelled gzip": (["gzip"], _as_is, _as_is),
    "a coding nobody decodes": (["compress"], _as_is, _as_is),
    "bz2 (mitmproxy reads it)": (["bz2"], bz2.compress, bz2.decompress),
}


@pytest.mark.parametrize("case", list(CODINGS))
def test_a_body_is_searched_as_its_readers_decode_it_and_put_back_the_same_way(case) -> None:
    lines, wire, unwire = CODINGS[case]
    headers = [("Content-Type", "application/json")]
    headers += [("Content-Encoding", coding) for coding in lines]
    done, counts = redact(response(headers, wire(b'{"secret": "coded-s3"}')))
    assert json.loads(unwire(done.response.body.data)) == {"secret": "***"}
    assert counts["body_fields"] == 1
    shown = record_to_flow(done).response.get_content(strict=False)  # mitmproxy's reader
    assert b"coded-s3" not in shown


def test_a_body_that_is_base64_of_text_is_searched_and_encoded_again() -> None:
    inner = base64.b64encode(b'{"secret": "b64-s3"}')
    done, counts = redact(response([("Content-Type", "application/octet-stream")], inner))
    assert json.loads(base64.b64decode(done.response.body.data)) == {"secret": "***"}
    assert counts["body_fields"] == 1


def test_websocket_text_messages_lose_json_secrets() -> None:
    record = request()
    record.websocket = [
        WebSocketMessage(True, "text", 1.0, b'{"type":"auth","token":"ws-s3"}'),
        WebSocketMessage(False, "text", 2.0, b"plain"),
    ]
    done, _ = redact(record)
    assert json.loads(done.websocket[0].content) == {"type": "auth", "token": "***"}
    assert done.websocket[1] is record.websocket[1]


def test_a_jwt_keeps_header_and_payload_and_loses_its_signature_by_default() -> None:
    record = response([("X-Debug", f"id {JWT}")], f"<p>{JWT}</p>".encode())
    done, counts = redact(record)
    assert done.response.headers == [("X-Debug", f"id {JWT_HEAD}.{JWT_BODY}.***")]
    assert done.response.body.data == f"<p>{JWT_HEAD}.{JWT_BODY}.***</p>".encode()
    assert counts["jwts"] == 2


def test_a_jwt_is_masked_whole_when_strict() -> None:
    record = response([("X-Debug", f"id {JWT}")], f"<p>{JWT}</p>".encode())
    done, counts = redact(record, strict=True)
    assert done.response.headers == [("X-Debug", "id ***")]
    assert done.response.body.data == b"<p>***</p>"
    assert JWT_BODY not in json.dumps(done.to_json())
    assert counts["jwts"] == 2


def test_names_a_person_adds_are_masked_everywhere() -> None:
    record = request(
        "https://a.example.com/?tenant_pin=q-s3",
        headers=[("X-Tenant-Pin", "h-s3"), ("Content-Type", "application/json")],
        body=Body(b'{"tenantPin": "b-s3"}'),
    )
    done, _ = redact(record, names=("tenant-pin",))
    text = json.dumps(done.to_json())
    assert not any(secret in text for secret in ("q-s3", "h-s3", "b-s3"))
    untouched, _ = redact(record)
    assert all(secret in json.dumps(untouched.to_json()) for secret in ("q-s3", "h-s3", "b-s3"))


@pytest.mark.parametrize(
    ("pattern", "url", "omitted"),
    [
        ("/v1/login", "https://a.example.com/v1/login?x=1", True),
        ("https://a.example.com/*/login", "https://a.example.com/v1/login", True),
        ("https://a.example.com/*/login", "https://a.example.com/v1/login/more", False),
        ("/v2/", "https://a.example.com/v1/login", False),
    ],
)
def test_bodies_by_url_pattern_become_empty_and_say_so(pattern, url, omitted) -> None:
    record = FlowRecord(
        request=Request("POST", url, body=Body(b"anything at all")),
        response=Response(200, body=Body(b"\x00binary")),
    )
    done, counts = redact(record, bodies=(pattern,))
    bodies = (done.request.body, done.response.body)
    if omitted:
        assert [(b.data, b.omitted, b.size) for b in bodies] == [
            (b"", "redacted", 15),
            (b"", "redacted", 7),
        ]
        assert counts["bodies"] == 2
    else:
        assert bodies == (record.request.body, record.response.body)


def test_bodies_by_url_pattern_blank_websocket_messages_too() -> None:
    record = FlowRecord(
        request=Request("GET", "https://ws.example.com/live"),
        response=Response(101),
        websocket=[
            WebSocketMessage(True, "text", 1.0, b"hello, anything"),
            WebSocketMessage(False, "binary", 2.0, b"\x00\x01"),
            WebSocketMessage(False, "text", 3.0, b""),
        ],
    )
    done, counts = redact(record, bodies=("ws.example.com/live",))
    assert done.websocket == [
        WebSocketMessage(True, "text", 1.0, b""),
        WebSocketMessage(False, "binary", 2.0, b""),
        WebSocketMessage(False, "text", 3.0, b""),
    ]
    assert counts["bodies"] == 2
    untouched, _ = redact(record, bodies=("/other",))
    assert untouched.websocket == record.websocket


def test_a_record_without_secrets_comes_back_equal_and_counts_nothing(record_kinds) -> None:
    record = record_kinds["get_with_query"]
    done, counts = redact(record)
    assert done.to_json() == record.to_json()
    assert set(counts.values()) == {0}


def test_redaction_leaves_the_record_handed_in_alone(secret_record: FlowRecord) -> None:
    before = secret_record.to_json()
    done, _ = redact(secret_record)
    assert secret_record.to_json() == before
    assert done.to_json() != before


def test_the_summary_counts_every_kind(secret_record: FlowRecord) -> None:
    tally = Tally()
    redaction = Redaction()
    redact_record(secret_record, redaction, tally)
    redact_record(request(f"https://a.example.com/?sig=s&t={JWT}"), redaction, tally)
    assert tally.as_json() == {
        "headers": 5,
        "cookies": 4,
        "query_parameters": 1,
        "body_fields": 0,
        "jwts": 1,
        "bodies": 0,
    }
    assert tally.text() == "5 headers, 4 cookies, 1 query parameter, 1 JWT"
    assert tally.header() == (
        "headers=5, cookies=4, query_parameters=1, body_fields=0, jwts=1, bodies=0"
    )
    assert Tally().text() == "nothing"
