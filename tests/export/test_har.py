"""HAR 1.2 export: schema-valid, readable by mitmproxy, and every field formats.md names."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest
from mitmproxy.io import har as mitmproxy_har
from mitmproxy.net.http import cookies

import mitmtape
from mitmtape.export import har
from mitmtape.export.decode import decode_body
from mitmtape.model import Body, FlowRecord, Request, Response, Timings

SCHEMA = json.loads((Path(__file__).parent / "har-1.2.schema.json").read_text())
ISO_MILLISECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$")
# mitmproxy's reader recomputes these two when it rebuilds bodies (and 12 also decodes them).
RECOMPUTED_HEADERS = {"content-length", "content-encoding"}


def export(run_export, records, redact: bool = False) -> dict:
    return json.loads(run_export(har.FORMAT, records, redact=redact))


def one_entry(run_export, record: FlowRecord, redact: bool = False) -> dict:
    return export(run_export, [record], redact)["log"]["entries"][0]


def comparable(headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in RECOMPUTED_HEADERS]


def test_format_is_registered_as_har() -> None:
    fmt = har.FORMAT
    assert (fmt.name, fmt.suffix, fmt.media_type, fmt.needs_bodies) == (
        "har",
        ".har",
        "application/json",
        True,
    )


@pytest.mark.parametrize("redact", [False, True])
def test_export_validates_against_the_har_1_2_schema(varied_records, run_export, redact) -> None:
    jsonschema.validate(export(run_export, varied_records, redact), SCHEMA)


def test_log_header_names_mitmtape_and_has_no_pages(run_export) -> None:
    log = export(run_export, [])["log"]
    assert log == {
        "version": "1.2",
        "creator": {"name": "mitmtape", "version": mitmtape.__version__},
        "pages": [],
        "entries": [],
    }
    jsonschema.validate({"log": log}, SCHEMA)


def test_mitmproxy_reads_back_methods_urls_statuses_headers_and_bodies(
    varied_records, run_export
) -> None:
    entries = export(run_export, varied_records)["log"]["entries"]
    for record, entry in zip(varied_records, entries, strict=True):
        flow = mitmproxy_har.request_to_flow(entry)
        assert flow.request.method == record.request.method
        assert flow.request.url == entry["request"]["url"]
        assert comparable(flow.request.headers.items(multi=True)) == comparable(
            record.request.headers
        )
        sent = decode_body(record.request.body, record.request.headers)
        if sent.is_base64:  # mitmproxy's reader does not know `_encoding`; ours does.
            assert base64.b64decode(flow.request.content) == sent.data
        else:
            assert flow.request.content == sent.data
        assert flow.response.status_code == record.status
        if record.response is not None:
            assert comparable(flow.response.headers.items(multi=True)) == comparable(
                record.response.headers
            )
            received = decode_body(record.response.body, record.response.headers)
            assert flow.response.content == received.data


def test_entries_are_in_the_order_given_with_millisecond_times(varied_records, run_export):
    entries = export(run_export, varied_records)["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == [
        har.har_url(r.request.url) for r in varied_records
    ]
    assert all(ISO_MILLISECONDS.match(e["startedDateTime"]) for e in entries)
    assert entries[0]["startedDateTime"] == "2024-01-15T10:30:00.123Z"
    assert entries[0]["time"] == 51.234


def test_headers_keep_wire_order_and_repeats(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["repeated_headers"])
    assert entry["request"]["headers"] == [
        {"name": "Accept", "value": "text/html"},
        {"name": "X-Trace", "value": "1"},
        {"name": "Accept", "value": "application/xml"},
    ]
    assert [h["value"] for h in entry["response"]["headers"] if h["name"] == "Vary"] == [
        "Accept",
        "Origin",
    ]


def test_query_string_is_parsed_in_order_with_repeats_and_blanks(record_kinds, run_export):
    entry = one_entry(run_export, record_kinds["get_with_query"])
    assert [(q["name"], q["value"]) for q in entry["request"]["queryString"]] == [
        ("page", "2"),
        ("sort", "name"),
        ("tag", "a"),
        ("tag", "b"),
        ("empty", ""),
        ("q", "café"),
    ]


def test_request_cookies_come_from_every_cookie_header(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["with_cookies"])
    assert entry["request"]["cookies"] == [
        {"name": "theme", "value": "dark"},
        {"name": "lang", "value": "en"},
        {"name": "ab", "value": "1"},
    ]


def test_response_cookies_carry_their_attributes(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["with_cookies"])
    cart, seen, plain = entry["response"]["cookies"]
    assert cart == {
        "name": "cart",
        "value": "42",
        "path": "/cart",
        "domain": "shop.example.com",
        "expires": "2026-10-21T07:28:00.000Z",
        "httpOnly": True,
        "secure": True,
    }
    # Max-Age counts from when the flow happened.
    assert seen == {
        "name": "seen",
        "value": "yes",
        "expires": "2024-01-15T11:30:09.123Z",
        "httpOnly": False,
        "secure": False,
    }
    assert plain == {"name": "plain", "value": "1", "httpOnly": False, "secure": False}


def test_json_post_data_is_text(record_kinds, run_export) -> None:
    post = one_entry(run_export, record_kinds["post_json"])["request"]["postData"]
    assert post == {
        "mimeType": "application/json",
        "text": '{"name": "widget", "count": 3}',
        "params": [],
    }


def test_form_post_data_also_lists_params(record_kinds, run_export) -> None:
    post = one_entry(run_export, record_kinds["form_post"])["request"]["postData"]
    assert post["text"] == "user=alice&note=a+b%26c&empty="
    assert post["params"] == [
        {"name": "user", "value": "alice"},
        {"name": "note", "value": "a b&c"},
        {"name": "empty", "value": ""},
    ]


def test_binary_post_data_is_base64_and_says_so(record_kinds, run_export) -> None:
    record = record_kinds["binary_image_response"]
    request = one_entry(run_export, record)["request"]
    assert request["postData"]["_encoding"] == "base64"
    assert base64.b64decode(request["postData"]["text"]) == record.request.body.data
    assert request["bodySize"] == record.request.body.size


def test_no_post_data_without_a_body(record_kinds, run_export) -> None:
    request = one_entry(run_export, record_kinds["get_with_query"])["request"]
    assert "postData" not in request
    assert (request["bodySize"], request["headersSize"]) == (0, -1)


def test_compressed_text_response_is_decoded_and_counts_the_saving(record_kinds, run_export):
    record = record_kinds["gzip_text_response"]
    response = one_entry(run_export, record)["response"]
    text = decode_body(record.response.body, record.response.headers).data.decode()
    assert response["content"] == {
        "size": len(text.encode()),
        "compression": len(text.encode()) - record.response.body.size,
        "mimeType": "text/html; charset=utf-8",
        "text": text,
    }
    assert response["bodySize"] == record.response.body.size


def test_binary_response_is_base64_with_encoding(record_kinds, run_export) -> None:
    record = record_kinds["binary_image_response"]
    content = one_entry(run_export, record)["response"]["content"]
    assert content["encoding"] == "base64"
    assert base64.b64decode(content["text"]) == record.response.body.data
    assert content["size"] == record.response.body.size
    assert "compression" not in content


def test_non_ascii_urls_are_percent_encoded_and_ascii_ones_untouched(record_kinds, run_export):
    url = one_entry(run_export, record_kinds["non_ascii"])["request"]["url"]
    assert url == "https://api.example.com/v1/people/%C3%B1and%C3%BA?q=%E2%9C%93"
    ascii_url = record_kinds["get_with_query"].request.url
    assert one_entry(run_export, record_kinds["get_with_query"])["request"]["url"] == ascii_url


def test_non_ascii_text_is_kept_as_text(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["non_ascii"])
    assert entry["response"]["content"]["text"] == "Grüße, 世界 🎉"
    assert "Kraków" in entry["request"]["postData"]["text"]


def test_redirect_url_is_the_location_header(record_kinds, run_export) -> None:
    assert one_entry(run_export, record_kinds["redirect"])["response"]["redirectURL"] == (
        "https://example.com/new"
    )
    assert one_entry(run_export, record_kinds["get_with_query"])["response"]["redirectURL"] == ""


def test_failed_flow_has_status_zero_and_its_error(record_kinds, run_export) -> None:
    response = one_entry(run_export, record_kinds["failed_no_response"])["response"]
    assert (response["status"], response["statusText"]) == (0, "Connection refused")
    assert response["_error"] == "Connection refused"
    assert response["cookies"] == response["headers"] == []


def test_flow_without_response_or_error_says_no_response(record_kinds, run_export) -> None:
    response = one_entry(run_export, record_kinds["no_response_no_error"])["response"]
    assert (response["status"], response["statusText"]) == (0, "No Response")
    assert "_error" not in response


def test_timings_are_converted_from_microseconds(record_kinds, run_export) -> None:
    timings = one_entry(run_export, record_kinds["get_with_query"])["timings"]
    assert timings == {
        "blocked": -1,
        "dns": 1.5,
        "connect": 2.5,
        "ssl": 3.5,
        "send": 0.25,
        "wait": 42.0,
        "receive": 1.25,
    }


def test_unknown_send_wait_receive_become_zero_the_rest_stay_minus_one(
    record_kinds, run_export
) -> None:
    timings = one_entry(run_export, record_kinds["post_json"])["timings"]
    assert timings == {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": 0.1,
        "wait": 0,
        "receive": 0,
    }


def test_without_timings_wait_holds_the_whole_duration(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["form_post"])
    assert entry["timings"] == {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": 0,
        "wait": 33.3,
        "receive": 0,
    }
    assert entry["time"] == 33.3


def test_time_without_duration_is_the_sum_of_known_phases(run_export) -> None:
    record = FlowRecord(
        request=Request("GET", "https://e.example/"),
        timings=Timings(connect=2000, send=500, wait=-1),
        error="timeout",
    )
    assert one_entry(run_export, record)["time"] == 2.5


def test_server_ip_connection_comment_and_tags(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["get_with_query"])
    assert entry["serverIPAddress"] == "93.184.216.34"
    assert entry["connection"] == "50123"
    assert entry["comment"] == "first page"
    assert entry["_tags"] == ["api", "list"]
    bare = one_entry(run_export, record_kinds["redirect"])
    assert not {"serverIPAddress", "connection", "comment", "_tags"} & set(bare)


def test_websocket_flow_lists_its_messages_like_chrome(record_kinds, run_export) -> None:
    entry = one_entry(run_export, record_kinds["websocket_flow"])
    assert entry["_resourceType"] == "websocket"
    assert entry["response"]["status"] == 101
    assert entry["_webSocketMessages"] == [
        {"type": "send", "time": 1705314607.5, "opcode": 1, "data": "hello server"},
        {"type": "receive", "time": 1705314607.75, "opcode": 1, "data": "héllo client"},
        {
            "type": "receive",
            "time": 1705314608.0,
            "opcode": 2,
            "data": base64.b64encode(b"\x00\x01\xfe\xff").decode(),
        },
    ]
    assert "_resourceType" not in one_entry(run_export, record_kinds["redirect"])


def test_redaction_masks_headers_and_cookie_values_but_keeps_cookie_names(
    secret_record, run_export
) -> None:
    entry = one_entry(run_export, secret_record, redact=True)
    request, response = entry["request"], entry["response"]
    assert {"name": "Authorization", "value": "Bearer ***"} in request["headers"]
    assert {"name": "Cookie", "value": "session=***; csrf=***"} in request["headers"]
    assert request["cookies"] == [
        {"name": "session", "value": "***"},
        {"name": "csrf", "value": "***"},
    ]
    assert [(c["name"], c["value"]) for c in response["cookies"]] == [
        ("sid", "***"),
        ("remember", "***"),
    ]
    assert response["cookies"][0]["path"] == "/"


def test_every_array_is_present_even_when_empty(run_export) -> None:
    record = FlowRecord(request=Request("GET", "https://e.example/"), response=Response(204))
    entry = one_entry(run_export, record)
    for part in (entry["request"], entry["response"]):
        for key in ("cookies", "headers"):
            assert part[key] == []
    assert entry["request"]["queryString"] == []


def test_a_body_not_recorded_gets_a_comment_saying_why(run_export) -> None:
    record = FlowRecord(
        request=Request(
            "POST",
            "https://up.example/big",
            headers=[("content-type", "application/octet-stream")],
            body=Body(b"", 5_000_000, "too-large"),
        ),
        response=Response(
            200, "OK", headers=[("content-type", "video/mp4")], body=Body(b"", 2**31, "streamed")
        ),
    )
    document = export(run_export, [record])
    jsonschema.validate(document, SCHEMA)
    [entry] = document["log"]["entries"]
    post, content = entry["request"]["postData"], entry["response"]["content"]
    assert post["comment"] == (
        "body not recorded: larger than tape_max_body_size; 5000000 bytes crossed the wire"
    )
    assert (post["text"], entry["request"]["bodySize"]) == ("", 5_000_000)
    assert content["comment"] == (
        "body not recorded: mitmproxy streamed it (stream_large_bodies); "
        "2147483648 bytes crossed the wire"
    )
    assert (content["size"], entry["response"]["bodySize"]) == (2**31, 2**31)
    assert "text" not in content


@pytest.mark.parametrize(
    "line",
    [
        "a=b; c=d",
        " a = b ;;c; =x; ;",
        "token=a=b==; empty=",
        "",
        'quoted="a;b"; plain=1',
        "sp=a b;tab=\tx",
    ],
)
def test_cookie_lines_are_read_as_mitmproxy_reads_them(line: str) -> None:
    assert har.cookie_pairs(line) == [
        (name, value or "") for name, value in cookies.parse_cookie_header(line)
    ]


@pytest.mark.parametrize(
    "line",
    [
        "sid=1; Path=/; HttpOnly; Secure",
        "sid=1; PATH=/a; path=/b; Domain=x.example;;  ; =",
        "flag; Max-Age=60",
        "; sid=2",
        "",
        "a=1, b=2; Path=/",
        'q="a;b"; Path=/',
        "e=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure",
        "e=1; expires=Wed",
    ],
)
def test_set_cookie_lines_are_read_as_mitmproxy_reads_them(line: str) -> None:
    expected = [
        (name, value, {key.lower(): text for key, text in attrs.items(multi=True)})
        for name, value, attrs in cookies.parse_set_cookie_header(line)
    ]
    assert har.set_cookies(line) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://a.test/p?x=1&y=&z&&w==2#frag",
        "https://a.test/p#frag?not=query",
        "https://a.test/p?q=a+b&r=%26",
        "https://a.test/p?tab=\t1",
        "https://a.test/p",
        "https://a.test/p?",
    ],
)
def test_query_strings_are_parsed_as_parse_qsl_parses_them(url: str) -> None:
    expected = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert har.query_string(url) == har.name_values(expected)


@pytest.mark.parametrize(
    "microseconds", [0, 1, 999, 1_234_567, har.EXACT_MICROSECONDS - 1, 2**62 + 1]
)
def test_phases_are_milliseconds_to_three_places(microseconds: int) -> None:
    assert har.phase_ms(microseconds, -1) == round(microseconds / 1000, 3)
    assert har.phase_ms(-1, 0) == 0


def test_times_keep_milliseconds_cut_not_rounded_in_utc() -> None:
    moment = datetime(2026, 3, 8, 15, 30, 22, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert har.iso_time(moment) == "2026-03-08T14:30:22.999Z"
    assert har.iso_time(moment.replace(microsecond=0)) == "2026-03-08T14:30:22.000Z"
