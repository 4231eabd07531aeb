"""HAR import, rule by rule (formats.md, "HAR import"), at the edges."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from ulid import ULID

from mitmtape.importers import ERRORS_KEPT, ImportFailed, import_file, import_new_session
from mitmtape.importers.pipeline import IMPORT_BATCH

MOMENT = datetime(2026, 3, 8, 14, 30, 22, tzinfo=UTC)


def one(store, session_id, har_file, records, entry, **fields):
    result = import_file(store, har_file([entry(**fields)]), session_id)
    assert (result.imported, result.skipped, result.errors) == (1, 0, [])
    (record,) = records(session_id)
    return record


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-08T14:30:22Z", MOMENT),
        ("2026-03-08T14:30:22.5Z", MOMENT.replace(microsecond=500_000)),
        ("2026-03-08T14:30:22.123456789Z", MOMENT.replace(microsecond=123_456)),
        ("2026-03-08T15:30:22.000+01:00", MOMENT),
        ("2026-03-08T15:30:22+0100", MOMENT),
        ("2026-03-08T14:30:22.1234567-00:00", MOMENT.replace(microsecond=123_456)),
    ],
)
def test_started_date_time_formats_are_read(
    store, session_id, har_file, records, entry, text, expected
):
    record = one(store, session_id, har_file, records, entry, startedDateTime=text)
    assert record.started_at == expected


@pytest.mark.parametrize("text", ["yesterday", "", None, 12])
def test_unreadable_or_missing_start_time_becomes_now(
    store, session_id, har_file, records, entry, text
):
    before = datetime.now(UTC)
    record = one(store, session_id, har_file, records, entry, startedDateTime=text)
    assert before <= record.started_at <= datetime.now(UTC)


def test_entry_fields_become_a_record(store, session_id, har_file, records, entry):
    record = one(store, session_id, har_file, records, entry)
    assert record.request.method == "GET"
    assert (record.request.host, record.request.port, record.request.path) == (
        "api.example.com",
        443,
        "/v1/items",
    )
    assert record.request.headers == [("Accept", "application/json")]
    assert record.duration_ms == 42.5
    assert record.response.status == 200
    assert record.response.reason == "OK"
    assert record.response.body.data == b'{"ok": true}'
    assert (record.timings.send, record.timings.wait, record.timings.receive) == (1000, 40000, 1500)
    assert (record.timings.dns, record.timings.connect, record.timings.ssl) == (-1, -1, -1)
    assert record.source == "import"
    assert record.metadata == {"import_source": "har"}
    assert record.session_id == session_id


def test_missing_method_is_get_and_missing_http_version_is_1_1(
    store, session_id, har_file, records, entry
):
    request = {"url": "http://example.com/a"}
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.method == "GET"
    assert record.request.http_version == "HTTP/1.1"
    assert record.request.port == 80


@pytest.mark.parametrize(
    ("written", "kept"), [("http/2.0", "HTTP/2.0"), ("HTTP/2", "HTTP/2.0"), ("h3", "HTTP/3")]
)
def test_http_versions_of_browsers_are_normalised(
    store, session_id, har_file, records, entry, written, kept
):
    request = {"method": "GET", "url": "https://a.test/", "httpVersion": written}
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.http_version == kept


@pytest.mark.parametrize(
    "url", ["not a url", "/relative/path", "ftp://example.com/x", "http://", "http://a:port/", ""]
)
def test_bad_url_skips_the_entry_and_reports_it(store, session_id, har_file, entry, url):
    entries = [entry(), entry(request={"method": "GET", "url": url}), entry()]
    result = import_file(store, har_file(entries), session_id)
    assert (result.imported, result.skipped) == (2, 1)
    assert result.errors[0].startswith("entry 1: ")
    assert "URL" in result.errors[0]


def test_entries_that_are_not_objects_are_skipped(store, session_id, har_file, entry):
    result = import_file(store, har_file([1, "x", None, {"request": 3}, entry()]), session_id)
    assert (result.imported, result.skipped) == (1, 4)
    assert [message.split(":")[0] for message in result.errors] == [
        "entry 0",
        "entry 1",
        "entry 2",
        "entry 3",
    ]


def test_status_0_means_no_response_and_keeps_the_error(
    store, session_id, har_file, records, entry
):
    response = {"status": 0, "statusText": "", "_error": "net::ERR_CONNECTION_REFUSED"}
    record = one(store, session_id, har_file, records, entry, response=response)
    assert record.response is None
    assert record.error == "net::ERR_CONNECTION_REFUSED"


def test_no_response_placeholder_is_not_an_error(store, session_id, har_file, records, entry):
    response = {"status": 0, "statusText": "No Response"}
    record = one(store, session_id, har_file, records, entry, response=response)
    assert (record.response, record.error) == (None, None)


def test_missing_response_is_no_response(store, session_id, har_file, records, entry):
    record = one(store, session_id, har_file, records, entry, response=None)
    assert record.response is None


def test_all_negative_timings_are_null(store, session_id, har_file, records, entry):
    timings = {p: -1 for p in ("blocked", "dns", "connect", "ssl", "send", "wait", "receive")}
    record = one(store, session_id, har_file, records, entry, timings=timings)
    assert record.timings is None


def test_zero_and_missing_timings_are_null(store, session_id, har_file, records, entry):
    assert one(store, session_id, har_file, records, entry, timings={"wait": 0}).timings is None


def test_negative_time_leaves_the_duration_unknown(store, session_id, har_file, records, entry):
    assert one(store, session_id, har_file, records, entry, time=-1).duration_ms is None


def response_with(content: dict, headers: list | None = None) -> dict:
    return {"status": 200, "statusText": "OK", "headers": headers or [], "content": content}


@pytest.mark.parametrize("encoding", ["base64", "BASE64", "Base64"])
def test_base64_response_content_is_decoded_in_any_case(
    store, session_id, har_file, records, entry, encoding
):
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    content = {
        "mimeType": "image/png",
        "encoding": encoding,
        "text": base64.b64encode(png).decode(),
    }
    record = one(store, session_id, har_file, records, entry, response=response_with(content))
    assert record.response.body.data == png


def test_content_marked_base64_that_does_not_decode_is_kept_as_text(
    store, session_id, har_file, records, entry
):
    content = {"mimeType": "text/plain", "encoding": "base64", "text": "plain text, not base64!"}
    record = one(store, session_id, har_file, records, entry, response=response_with(content))
    assert record.response.body.data == b"plain text, not base64!"


def test_decoded_content_is_encoded_again_as_content_encoding_says(
    store, session_id, har_file, records, entry
):
    headers = [{"name": "Content-Encoding", "value": "gzip"}]
    content = {"size": 20, "mimeType": "text/plain", "text": "hello " * 50}
    response = response_with(content, headers)
    record = one(store, session_id, har_file, records, entry, response=response)
    assert record.response.headers == [("Content-Encoding", "gzip")]
    assert gzip.decompress(record.response.body.data) == b"hello " * 50


def test_unknown_content_encoding_keeps_the_decoded_body_without_the_header(
    store, session_id, har_file, records, entry
):
    headers = [{"name": "content-encoding", "value": "compress"}, {"name": "X-A", "value": "1"}]
    response = response_with({"text": "plain"}, headers)
    record = one(store, session_id, har_file, records, entry, response=response)
    assert record.response.headers == [("X-A", "1")]
    assert record.response.body.data == b"plain"


def test_body_already_gzipped_in_the_har_is_not_gzipped_twice(
    store, session_id, har_file, records, entry
):
    wire = gzip.compress(b"payload")
    headers = [{"name": "Content-Encoding", "value": "gzip"}]
    content = {"encoding": "base64", "text": base64.b64encode(wire).decode()}
    response = response_with(content, headers)
    record = one(store, session_id, har_file, records, entry, response=response)
    assert gzip.decompress(record.response.body.data) == b"payload"


def post(post_data: dict) -> dict:
    return {"method": "POST", "url": "https://a.test/upload", "postData": post_data}


def test_post_text_of_a_text_type_is_taken_as_is(store, session_id, har_file, records, entry):
    request = post({"mimeType": "application/json", "text": '{"a": 1}'})
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == b'{"a": 1}'


def test_post_text_of_a_binary_type_is_base64_decoded(store, session_id, har_file, records, entry):
    data = bytes(range(256))
    request = post(
        {"mimeType": "application/octet-stream", "text": base64.b64encode(data).decode()}
    )
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == data


def test_post_text_of_a_binary_type_that_is_not_base64_is_kept(
    store, session_id, har_file, records, entry
):
    request = post({"mimeType": "application/octet-stream", "text": "raw bytes?"})
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == b"raw bytes?"


def test_post_marked_base64_by_mitmtape_export_is_decoded(
    store, session_id, har_file, records, entry
):
    request = post({"mimeType": "text/plain", "text": "AAEC/w==", "_encoding": "base64"})
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == b"\x00\x01\x02\xff"


def test_post_params_without_text_rebuild_a_form_body(store, session_id, har_file, records, entry):
    params = [{"name": "a", "value": "1"}, {"name": "b", "value": "two words"}]
    request = post({"mimeType": "application/x-www-form-urlencoded", "params": params})
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == b"a=1&b=two+words"


def test_multipart_params_without_text_rebuild_a_multipart_body(
    store, session_id, har_file, records, entry
):
    params = [{"name": "file", "value": "abc", "fileName": "a.txt"}]
    request = post({"mimeType": "multipart/form-data; boundary=XYZ", "params": params})
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.body.data == (
        b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        b"abc\r\n--XYZ--\r\n"
    )


def test_http2_pseudo_headers_are_left_out(store, session_id, har_file, records, entry):
    headers = [
        {"name": ":method", "value": "GET"},
        {"name": ":authority", "value": "a.test"},
        {"name": "accept", "value": "*/*"},
        {"name": "accept", "value": "text/html"},
        {"value": "nameless"},
    ]
    request = {"method": "GET", "url": "https://a.test/", "headers": headers}
    record = one(store, session_id, har_file, records, entry, request=request)
    assert record.request.headers == [("accept", "*/*"), ("accept", "text/html")]


def test_extensions_are_kept_in_metadata_and_server(store, session_id, har_file, records, entry):
    record = one(
        store,
        session_id,
        har_file,
        records,
        entry,
        _resourceType="fetch",
        comment="look here",
        pageref="page_1",
        serverIPAddress="[2001:db8::1]",
        _initiator={"type": "script", "url": "https://a.test/app.js", "stack": {"huge": 1}},
    )
    assert record.metadata == {
        "resource_type": "fetch",
        "comment": "look here",
        "pageref": "page_1",
        "initiator": {"type": "script", "url": "https://a.test/app.js"},
        "import_source": "har",
    }
    assert record.server == {"host": "api.example.com", "port": 443, "ip": "2001:db8::1"}


def test_websocket_messages_become_record_messages(store, session_id, har_file, records, entry):
    messages = [
        {"type": "send", "time": 1700000000.5, "opcode": 1, "data": "hello"},
        {"type": "receive", "time": 1700000000.75, "opcode": 2, "data": "AAEC/w=="},
        {"type": "receive", "time": 1700000001, "opcode": 9, "data": ""},
        {"type": "send", "time": 1700000001500.0, "opcode": 1, "data": "playwright ms"},
    ]
    ws = entry(request={"method": "GET", "url": "wss://a.test/socket"})
    ws.update(_resourceType="websocket", _webSocketMessages=messages)
    ws["response"] = {"status": 101, "statusText": "Switching Protocols", "headers": []}
    result = import_file(store, har_file([ws]), session_id)
    assert result.imported == 1
    (record,) = records(session_id)
    assert [(m.from_client, m.type, m.timestamp, m.content) for m in record.websocket] == [
        (True, "text", 1700000000.5, b"hello"),
        (False, "binary", 1700000000.75, b"\x00\x01\x02\xff"),
        (True, "text", 1700000001.5, b"playwright ms"),
    ]


def test_zero_entries_is_a_success(store, session_id, har_file):
    assert import_file(store, har_file([]), session_id).to_json() == {
        "imported": 0,
        "skipped": 0,
        "errors": [],
    }


@pytest.mark.parametrize(
    "content",
    [
        '{"log": {"version": "1.2"}}',
        '{"log": {"entries": null}}',
        '{"log": {"entries": {"a": 1}}}',
        '{"other": 1}',
        '[{"log": 1}]',
    ],
)
def test_json_without_log_entries_is_an_error(store, session_id, text_file, content):
    with pytest.raises(ImportFailed, match=r"x\.har: .*log\.entries"):
        import_file(store, text_file("x.har", content), session_id, format="har")


@pytest.mark.parametrize("content", ["", "   \n\t"])
def test_empty_file_is_an_error(store, session_id, text_file, content):
    with pytest.raises(ImportFailed, match=r"empty\.har: the file is empty"):
        import_file(store, text_file("empty.har", content), session_id, format="har")


def test_non_json_is_an_error(store, session_id, text_file):
    with pytest.raises(ImportFailed, match=r"junk\.har: .*not valid JSON"):
        import_file(store, text_file("junk.har", "{this is not json}"), session_id, format="har")


def test_messages_stop_at_100_but_skipped_counts_all(store, session_id, har_file, entry):
    bad = entry(request={"url": "nope"})
    for count in (ERRORS_KEPT, ERRORS_KEPT + 1):
        result = import_file(store, har_file([bad] * count + [entry()]), session_id)
        assert (result.imported, result.skipped, len(result.errors)) == (1, count, ERRORS_KEPT)
        assert result.errors[-1].startswith(f"entry {ERRORS_KEPT - 1}: ")


def truncated_har(entry, count: int) -> str:
    text = json.dumps({"log": {"entries": [entry() for _ in range(count)]}})
    return text[: len(text) - 30]


def test_truncated_file_into_a_new_session_leaves_nothing(store, entry, text_file):
    path = text_file("cut.har", truncated_har(entry, IMPORT_BATCH * 2 + 10))
    before = [s.id for s in store.list_sessions()]
    with pytest.raises(ImportFailed, match=r"cut\.har: not valid JSON: .*truncated") as caught:
        import_new_session(store, path)
    assert caught.value.kept == 0
    assert "kept" not in str(caught.value)
    assert [s.id for s in store.list_sessions()] == before


def test_truncated_file_into_a_session_keeps_whole_batches_and_says_so(
    store, session_id, entry, text_file
):
    path = text_file("cut.har", truncated_har(entry, IMPORT_BATCH * 2 + 10))
    with pytest.raises(
        ImportFailed, match=rf"{IMPORT_BATCH * 2:,} flows written .* kept"
    ) as caught:
        import_file(store, path, session_id)
    assert caught.value.kept == IMPORT_BATCH * 2
    assert store.count_flows(session_id) == IMPORT_BATCH * 2


@pytest.mark.parametrize(
    "url",
    [
        "https://API.Example.com/v1/items?page=2#top",
        "HTTP://a.test:8080",
        "http://a.test:65535/x?y",
        "https://a.test:0/",
        "wss://a.test/socket#frag?not-a-query",
        "https://user:pw@a.test:444/p",
        "http://[::1]:8000/ipv6",
        "https://a.test:/empty-port",
        "https://a.test/with\ttab",
        "https://a_b.test/%7Efolder;params",
    ],
)
def test_url_parts_are_what_urlsplit_gives(store, session_id, har_file, records, entry, url):
    record = one(store, session_id, har_file, records, entry, request={"url": url})
    parts = urlsplit(url)
    default = 443 if parts.scheme.lower() in ("https", "wss") else 80
    assert (record.request.host, record.request.port, record.request.path) == (
        parts.hostname,
        parts.port or default,
        parts.path or "/",
    )


def test_a_port_past_65535_skips_the_entry(store, session_id, har_file, entry):
    bad = entry(request={"url": "https://a.test:65536/"})
    result = import_file(store, har_file([entry(), bad]), session_id)
    assert (result.imported, result.skipped) == (1, 1)
    assert result.errors == ["entry 1: invalid URL 'https://a.test:65536/'"]


def test_flows_imported_together_get_ulids_in_file_order(
    store, session_id, har_file, records, entry
):
    # Same start time, so the id is the order: ids made within one millisecond count up.
    result = import_file(store, har_file([entry() for _ in range(300)]), session_id)
    assert result.imported == 300
    ids = [record.id for record in records(session_id)]
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert [str(ULID.from_str(flow_id)) for flow_id in ids] == ids
