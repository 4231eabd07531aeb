"""A mitmproxy flow copied on the event loop (`snapshot_of`), sent as plain tuples, and the
record it makes; bodies mitmproxy streamed or that are over the size limit kept as omitted."""

from __future__ import annotations

import gzip

import pytest
from mitmproxy import flowfilter, http
from mitmproxy.test import tflow

from mitmtape.capture import record as record_module
from mitmtape.capture.record import (
    compile_expression,
    flow_to_record,
    reads_connections,
    record_to_flow,
    snapshot_from_wire,
    snapshot_of,
)
from mitmtape.model import FlowRecord


def test_request_and_response_fields_are_copied_as_on_the_wire() -> None:
    flow = tflow.tflow(resp=True)
    flow.request.headers.add("X-Dup", "1")
    flow.request.headers.add("X-Dup", "2")
    flow.response.headers["content-encoding"] = "gzip"
    flow.response.raw_content = gzip.compress(b"hello" * 50)
    record = flow_to_record(flow, "S1")
    assert record.session_id == "S1"
    assert record.request.method == "GET"
    assert record.request.url == flow.request.pretty_url
    assert record.request.headers[-2:] == [("X-Dup", "1"), ("X-Dup", "2")]
    assert record.response is not None
    assert record.response.body.data == flow.response.raw_content
    assert record.response.status == 200
    assert record.source == "proxy"
    expected_ms = (flow.response.timestamp_end - flow.request.timestamp_start) * 1000
    assert record.duration_ms == round(expected_ms, 3)


def test_error_flow_has_no_response_and_no_duration() -> None:
    flow = tflow.tflow(err=True)
    record = flow_to_record(flow, "S")
    assert record.response is None and record.duration_ms is None
    assert record.error == flow.error.msg
    assert record.status == 0


def test_comment_marker_and_replay_source() -> None:
    flow = tflow.tflow(resp=True)
    flow.comment = "check this"
    flow.marked = ":red_circle:"
    flow.is_replay = "request"
    record = flow_to_record(flow, "S")
    assert record.metadata == {"comment": "check this", "marker": ":red_circle:"}
    assert record.source == "replay"


def test_server_details() -> None:
    flow = tflow.tflow(resp=True)
    flow.server_conn.alpn = b"h2"
    server = flow_to_record(flow, "S").server
    assert server == {
        "host": "address",
        "port": 22,
        "ip": "192.168.0.1",
        "sni": "address",
        "tls_version": "TLSv1.2",
        "alpn": "h2",
    }
    assert flow_to_record(flow, "S").client == {"host": "127.0.0.1", "port": 22}


def test_websocket_messages_are_kept() -> None:
    flow = tflow.twebsocketflow()
    record = flow_to_record(flow, "S")
    assert record.websocket is not None
    original = flow.websocket.messages
    assert [m.content for m in record.websocket] == [m.content for m in original]
    assert [m.from_client for m in record.websocket] == [m.from_client for m in original]
    assert {m.type for m in record.websocket} <= {"text", "binary"}


def _with_request(fields: tuple[tuple[bytes, bytes], ...] = (), **changes: object) -> http.HTTPFlow:
    """tflow's flow with request attributes changed; `fields` are raw header lines added."""
    flow = tflow.tflow(resp=True)
    for name, value in changes.items():
        setattr(flow.request, name, value)
    flow.request.headers.fields += fields
    return flow


@pytest.mark.parametrize(
    "flow",
    [
        _with_request(host_header="api.example.com"),
        _with_request(host="10.0.0.7", port=8443, scheme="https", host_header="shop.test:8443"),
        _with_request(host="10.0.0.7", port=8443, scheme="https", host_header="shop.test"),
        _with_request(host="::1", port=8080),
        _with_request(host_header="[::1]:8080"),
        _with_request(http_version="HTTP/2.0", authority="h2.example:444"),
        _with_request(http_version="HTTP/3", authority="h3.example"),
        _with_request(http_version="HTTP/2.0", fields=((b"Host", b"h2-host.example:8000"),)),
        _with_request(http_version="HTTP/2.0", authority="xn--bcher-kva.example"),
        _with_request(http_version="HTTP/2.0", authority=b"\xff.example"),
        _with_request(method="CONNECT", authority="tunnel.example:443", path=""),
        _with_request(method="connect", authority="tunnel.example:443", path=""),
        _with_request(method="OPTIONS", path="*"),
        _with_request(method="OPTIONS", path="*", host_header="api.example.com:8080"),
        _with_request(fields=((b"HOST", b"upper.example"),)),
        _with_request(fields=((b"Host", b"one.example"), (b"host", b"two.example"))),
        _with_request(fields=((b"Host", b"bad.example:99999"),)),
        _with_request(fields=((b"Host", b""),)),
        _with_request(fields=((b"Host", "b\u00fccher.example".encode()),)),
        _with_request(path="/caf\xc3\xa9?q=\xff".encode("latin-1")),
    ],
    ids=[
        "host-header", "transparent-ip", "transparent-ip-default-port", "ipv6",
        "ipv6-host-header", "h2-authority", "h3-authority", "h2-host-header", "h2-idna",
        "h2-authority-not-idna", "connect", "connect-lower-case", "asterisk",
        "asterisk-host-header", "upper-case-host-header", "repeated-host-headers",
        "host-header-bad-port", "empty-host-header", "utf8-host-header", "non-utf8-path",
    ],
)  # fmt: skip
def test_url_and_host_are_mitmproxys_pretty_ones(flow: http.HTTPFlow) -> None:
    record = flow_to_record(flow, "s")
    assert (record.request.url, record.request.host) == (
        flow.request.pretty_url,
        flow.request.pretty_host,
    )


def test_nothing_of_one_flow_leaks_into_the_next_record() -> None:
    first = _with_request(http_version="HTTP/2.0", authority="h2.example:444")
    first.request.trailers = http.Headers(x_checksum="1")
    first.response.trailers = http.Headers(x_done="1")
    second = tflow.tflow(resp=True)
    one, two = flow_to_record(first, "s"), flow_to_record(second, "s")
    assert one.request.trailers == [("x-checksum", "1")]
    assert one.response is not None and one.response.trailers == [("x-done", "1")]
    assert two.request.trailers is None
    assert two.response is not None and two.response.trailers is None
    assert (two.request.url, two.request.http_version) == (
        second.request.pretty_url,
        second.request.http_version,
    )


def _record(flow: http.HTTPFlow, max_body_size: int | None = None) -> FlowRecord:
    return snapshot_from_wire(snapshot_of(flow, True, max_body_size)).to_record("s")


def _streamed(flow: http.HTTPFlow, message: http.Message, length: str | None) -> http.HTTPFlow:
    """A message as mitmproxy leaves it after streaming it (stream_large_bodies): no content."""
    message.stream = True
    message.data.content = None
    if length is None:
        message.headers.pop("content-length", None)
        message.headers["transfer-encoding"] = "chunked"
    else:
        message.headers["content-length"] = length
    return flow


def test_a_streamed_response_is_recorded_omitted_with_its_content_length() -> None:
    flow = tflow.tflow(resp=True)
    record = _record(_streamed(flow, flow.response, "200000000"))
    assert record.response is not None
    body = record.response.body
    assert (body.data, body.size, body.omitted) == (b"", 200_000_000, "streamed")
    assert record.response_size == 200_000_000
    assert record.request.body.omitted is None


def test_a_streamed_request_without_a_length_is_omitted_with_size_unknown() -> None:
    flow = tflow.tflow(resp=True)
    record = _record(_streamed(flow, flow.request, None))
    assert (record.request.body.omitted, record.request.body.size) == ("streamed", 0)


def test_a_body_that_never_arrived_is_empty_not_streamed() -> None:
    flow = tflow.tflow(resp=True, err=True)
    flow.response.data.content = None  # the connection died before the body came
    record = _record(flow)
    assert record.response is not None
    assert (record.response.body.data, record.response.body.omitted) == (b"", None)


@pytest.mark.parametrize(("size", "kept"), [(1_000, True), (1_001, False)])
def test_max_body_size_keeps_a_body_at_the_limit_and_omits_a_larger_one(
    size: int, kept: bool
) -> None:
    flow = tflow.tflow(resp=True)
    flow.request.content = b"q" * size
    flow.response.content = b"r" * size
    record = _record(flow, max_body_size=1_000)
    assert record.response is not None
    for body, byte in ((record.request.body, b"q"), (record.response.body, b"r")):
        assert body.size == size
        assert (body.data, body.omitted) == ((byte * size, None) if kept else (b"", "too-large"))


def test_without_max_body_size_every_body_is_kept() -> None:
    flow = tflow.tflow(resp=True)
    flow.response.content = b"r" * 5_000_000
    record = _record(flow)
    assert record.response is not None and record.response.body.data == b"r" * 5_000_000


@pytest.mark.parametrize(
    ("expression", "needs_bodies"),
    [
        ("~m POST", False),
        ("~d example.com & !(~c 404 | ~u /x)", False),
        ("example.com", False),
        ("~b secret", True),
        ("~m POST & !(~c 500 | ~bs oops)", True),
        ("~bq token", True),
    ],
)
def test_an_expression_says_whether_it_reads_bodies(expression: str, needs_bodies: bool) -> None:
    assert compile_expression(expression).needs_bodies is needs_bodies


def test_a_body_expression_still_matches_on_bodies(make_record) -> None:
    matches = compile_expression("~bs needle")
    assert matches(make_record(response_body=b"a needle here"))
    assert not matches(make_record(response_body=b"hay"))


@pytest.mark.parametrize(
    ("expression", "reads"),
    [
        ("~m POST", False),
        ("~d example.com & !(~c 404 | ~u /x) & ~bs ok", False),
        ("~q | ~s | ~e | ~marked | ~replay | ~comment x | ~meta y | ~a | ~all", False),
        ("~src 10.0.0.1", True),
        ("~m GET & !(~dst db.internal)", True),
    ],
)
def test_an_expression_says_whether_it_reads_connections(expression: str, reads: bool) -> None:
    matcher = compile_expression(expression)
    assert reads_connections(matcher.matcher) is reads
    assert (matcher.connections is None) is reads


def test_an_unknown_filter_node_is_taken_to_read_connections() -> None:
    """A node a later mitmproxy adds may read anything: the flow's own connections, then."""

    class Unheard:
        def __call__(self, flow: http.HTTPFlow) -> bool:
            return True

    assert reads_connections(flowfilter.FAnd([flowfilter.FReq(), Unheard()]))


def varied_records(make_record) -> list[FlowRecord]:
    """Flows that differ in everything a filter reads, the connections included."""
    records = []
    for index, (method, status) in enumerate([("GET", 200), ("POST", 404), ("PUT", None)]):
        record = make_record(
            method=method,
            url=f"https://svc{index}.example.com/v{index}/items?q={index}",
            status=status,
            request_body=b"token=abc" if method == "POST" else b"",
            client={"host": f"10.0.0.{index}", "port": 50_000 + index},
            server={"ip": f"192.0.2.{index}"},
            metadata={"comment": f"note {index}", "marker": ":star:" if index else ""},
        )
        if status is None:
            record.error = "connection reset"
        records.append(record)
    return records


def every_filter_expression() -> list[str]:
    """One expression per filter mitmproxy offers (each operator on its own)."""
    expressions = [f"~{node.code}" for node in flowfilter.filter_unary]
    expressions += [f"~{node.code} ." for node in flowfilter.filter_rex]
    expressions += [f"~{node.code} 404" for node in flowfilter.filter_int]
    return expressions


def test_stand_in_connections_change_no_answer_of_any_filter(make_record) -> None:
    records = varied_records(make_record)
    expressions = every_filter_expression()
    expressions += ["~src 10.0.0.1", "~dst svc2", "~d svc1 & ~m POST", "!~e & ~bq token"]
    for expression in expressions:
        matcher = compile_expression(expression)
        with_own = [bool(matcher.matcher(record_to_flow(record))) for record in records]
        assert [matcher(record) for record in records] == with_own, expression
    assert [compile_expression("~src 10.0.0.1")(record) for record in records] == [
        False,
        True,
        False,
    ]


def test_a_test_reading_no_connection_makes_none(make_record, monkeypatch) -> None:
    """Two connections per flow were a third of each rebuild for an expression."""
    records = varied_records(make_record)
    by_method, by_source = compile_expression("~m POST"), compile_expression("~src 10.0.0.2")

    def no_connection(*_args: object) -> None:
        raise AssertionError("a connection was made")

    monkeypatch.setattr(record_module, "_client", no_connection)
    monkeypatch.setattr(record_module, "_server", no_connection)
    assert [by_method(record) for record in records] == [False, True, False]
    with pytest.raises(AssertionError, match="a connection was made"):
        by_source(records[0])
