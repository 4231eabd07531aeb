"""The MCP server's tools, called in-process on a real store: limits at the limit and one past
it, redaction on by default, paths kept under the working directory, clear refusals.
The protocol itself, through a real MCP client and a recording proxy: tests/e2e/test_mcp.py."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path

import pytest
from mcp.server.fastmcp.exceptions import ToolError

import mitmtape
from mitmtape import cli, mcp
from mitmtape.export.formats import FORMATS
from mitmtape.export.pipeline import ExportResult
from mitmtape.model import Body, Timings, WebSocketMessage
from mitmtape.store import Store
from tests.conftest import RecordFactory

SECRET = "Bearer s3cr3t-token"
# A JWT (header.payload.signature); strict redaction masks it whole.
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def tools(store: Store, tmp_path: Path) -> mcp.Tools:
    return mcp.Tools(store, tmp_path)


def add(store: Store, make_record: RecordFactory, **fields) -> str:
    record = make_record(session_id=store.active_session().id, **fields)
    store.add_flows([record])
    return record.id


def test_flow_returns_decoded_text_bodies_headers_and_timings(tools, store, make_record) -> None:
    flow_id = add(
        store,
        make_record,
        response_body=gzip.compress(b'{"order": 7}'),
        response_headers=[("content-type", "application/json"), ("content-encoding", "gzip")],
        error="peer closed connection",
        timings=Timings(dns=0, connect=1500, ssl=-1, send=10, wait=9000, receive=120),
    )
    view = tools.flow(flow_id)["flow"]
    body = view["response"]["body"]
    assert (body["encoding"], body["content"], body["truncated"]) == ("text", '{"order": 7}', False)
    assert body["size"] == len(gzip.compress(b'{"order": 7}'))
    assert view["error"] == "peer closed connection"
    assert view["timings"] == {
        "dns": 0, "connect": 1500, "ssl": -1, "send": 10, "wait": 9000, "receive": 120
    }  # fmt: skip
    assert ["content-encoding", "gzip"] in view["response"]["headers"]


@pytest.mark.parametrize("extra", [0, 1])
def test_flow_cuts_a_text_body_past_the_limit_and_says_its_length(
    tools, store, make_record, extra: int
) -> None:
    text = "x" * (mcp.FLOW_BODY_CHARACTERS + extra)
    flow_id = add(store, make_record, response_body=text.encode(), response_headers=[
        ("content-type", "text/plain")
    ])  # fmt: skip
    body = tools.flow(flow_id)["flow"]["response"]["body"]
    assert body["content"] == text[: mcp.FLOW_BODY_CHARACTERS]
    assert body["truncated"] is bool(extra)
    assert body["content_length"] == len(text)


def test_a_cut_binary_body_is_still_valid_base64(tools, store, make_record) -> None:
    data = bytes(range(256)) * (mcp.FLOW_BODY_CHARACTERS // 256 + 1)
    flow_id = add(store, make_record, response_body=data, response_headers=[
        ("content-type", "application/octet-stream")
    ])  # fmt: skip
    body = tools.flow(flow_id)["flow"]["response"]["body"]
    assert body["encoding"] == "base64" and body["truncated"] is True
    assert data.startswith(base64.b64decode(body["content"], validate=True))


def test_an_omitted_body_says_why() -> None:
    view = mcp.body_view(Body(b"", 5_000_000, "too-large"), [])
    assert view["encoding"] == "omitted" and "tape_max_body_size" in view["content"]
    assert view["size"] == 5_000_000


@pytest.mark.parametrize("extra", [0, 1])
def test_flow_shows_websocket_messages_up_to_the_limit_and_counts_them_all(
    tools, store, make_record, extra: int
) -> None:
    total = mcp.FLOW_WEBSOCKET_MESSAGES + extra
    messages = [WebSocketMessage(True, "text", 1.0 + n, b"hi") for n in range(total)]
    view = tools.flow(add(store, make_record, websocket=messages))["flow"]
    assert len(view["websocket"]) == mcp.FLOW_WEBSOCKET_MESSAGES
    assert view["websocket_total"] == total


def test_flow_and_copy_as_redact_by_default_and_not_when_told(tools, store, make_record) -> None:
    flow_id = add(store, make_record, request_headers=[("authorization", SECRET)])
    assert SECRET not in json.dumps(tools.flow(flow_id))
    assert tools.flow(flow_id)["redacted"]["headers"] == 1
    assert SECRET not in tools.copy_as(flow_id, "curl")["snippet"]
    assert SECRET in tools.copy_as(flow_id, "curl", redact=False)["snippet"]
    assert tools.flow(flow_id, redact="false")["redacted"] is None


def test_strict_redaction_masks_a_jwt_whole(tools, store, make_record) -> None:
    flow_id = add(store, make_record, request_headers=[("x-session", JWT)])
    signature = JWT.rsplit(".", 1)[1]
    assert signature not in json.dumps(tools.flow(flow_id, redact=True))
    strict = json.dumps(tools.flow(flow_id, redact="strict"))
    assert JWT.split(".")[1] not in strict


def test_flows_redacts_secrets_in_urls(tools, store, make_record) -> None:
    add(store, make_record, url="https://api.example.com/v1?api_key=hunter2")
    assert "hunter2" not in json.dumps(tools.flows())
    assert "hunter2" in json.dumps(tools.flows(redact=False))


def test_flows_pages_at_most_the_limit_with_a_cursor_for_the_rest(tools, store, make_record):
    session_id = store.active_session().id
    total = mcp.FLOWS_PAGE_MAX + 20
    store.add_flows([make_record(session_id=session_id) for _ in range(total)])
    first = tools.flows()
    assert (len(first["flows"]), first["total"]) == (mcp.FLOWS_PAGE_MAX, total)
    assert first["next_cursor"] is not None and not first["total_estimated"]
    second = tools.flows(cursor=first["next_cursor"])
    assert len(second["flows"]) == 20 and second["next_cursor"] is None
    seen = [flow["id"] for flow in first["flows"] + second["flows"]]
    assert len(set(seen)) == total


def test_flows_refuses_a_limit_past_the_page_maximum_and_a_made_up_cursor(tools) -> None:
    assert tools.flows(limit=mcp.FLOWS_PAGE_MAX)["flows"] == []
    with pytest.raises(ToolError, match=f"limit must be 1 to {mcp.FLOWS_PAGE_MAX}, not 101"):
        tools.flows(limit=mcp.FLOWS_PAGE_MAX + 1)
    with pytest.raises(ToolError, match="cursor must be the next_cursor"):
        tools.flows(cursor="abc")


def test_flows_filters_by_expression_and_simple_filters(tools, store, make_record) -> None:
    add(store, make_record, method="POST", url="https://shop.example/orders", status=500)
    add(store, make_record, method="GET", url="https://shop.example/orders", status=500)
    add(store, make_record, method="POST", url="https://other.example/orders", status=500)
    found = tools.flows(filter="~d shop.example", method="POST", status_min=500)
    assert [f["url"] for f in found["flows"]] == ["https://shop.example/orders"]
    assert found["total"] == 1


def result_of_size(size: int) -> ExportResult:
    return ExportResult(FORMATS["har"], Path("x.har"), 1, 1, size, None)


def test_inline_exports_stop_at_the_named_size() -> None:
    mcp.check_inline(result_of_size(mcp.GENERATE_INLINE_BYTES))
    with pytest.raises(ToolError, match=r"more than the 1\.0 MB returned inline; give save_to"):
        mcp.check_inline(result_of_size(mcp.GENERATE_INLINE_BYTES + 1))


def test_generate_writes_under_the_working_directory_making_folders(
    tools, store, make_record, tmp_path
) -> None:
    add(store, make_record, request_headers=[("authorization", SECRET)])
    result = tools.generate("har", save_to="./debug/x.har")
    written = tmp_path / "debug" / "x.har"
    assert result["path"] == str(written) and result["size"] == written.stat().st_size
    assert result["flows"] == 1 and result["content"] is None
    assert SECRET not in written.read_text()


def test_generate_into_a_folder_uses_the_default_file_name(tools, store, make_record, tmp_path):
    add(store, make_record)
    path = Path(tools.generate("csv", save_to="exports/")["path"])
    assert path.parent == tmp_path / "exports" and path.suffix == ".csv"


@pytest.mark.parametrize("outside", ["../x.har", "/tmp/x.har", "~/x.har", "debug/../../x.har"])
def test_paths_outside_the_working_directory_are_refused(tools, outside: str) -> None:
    with pytest.raises(ToolError, match="must be a path under the server's working directory"):
        tools.generate("har", save_to=outside)
    with pytest.raises(ToolError, match="must be a path under the server's working directory"):
        tools.import_(outside)


def test_a_link_out_of_the_working_directory_is_refused(tools, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(ToolError, match="under the server's working directory"):
        tools.generate("har", save_to="link/x.har")
    assert list(outside.iterdir()) == []


def test_a_binary_format_asks_for_save_to(tools) -> None:
    with pytest.raises(ToolError, match=r"the mitm format is binary .* give save_to"):
        tools.generate("mitm")


def test_import_into_a_new_or_a_named_session(tools, store, make_record, tmp_path) -> None:
    add(store, make_record)
    tools.generate("har", save_to="one.har")
    new = tools.import_("one.har")
    assert (new["session_name"], new["imported"], new["skipped"]) == ("one.har (imported)", 1, 0)
    named = tools.import_("one.har", into=new["session"])
    assert named["session"] == new["session"]
    assert store.get_session(new["session"]).flow_count == 2


def test_import_refuses_a_missing_file_and_an_unknown_format(tools) -> None:
    with pytest.raises(ToolError, match=r"no file 'gone\.har' under the server's working"):
        tools.import_("gone.har")
    with pytest.raises(ToolError, match="format must be auto or one of json, har, mitm"):
        tools.import_("gone.har", format="xml")


def test_compare_gives_text_and_json(tools, store, make_record) -> None:
    before = store.active_session()
    add(store, make_record, url="https://api.example.com/old")
    after = store.create_session("after")
    store.add_flows([make_record(session_id=after.id, url="https://api.example.com/new")])
    result = tools.compare(before.name, "after")
    assert result["comparison"]["added"] == [{"endpoint": "GET api.example.com/new", "flows": 1}]
    assert "api.example.com/new" in result["text"]


def test_mitmtape_mcp_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What a missing SDK makes of it: the module cannot be imported.
    monkeypatch.setitem(sys.modules, "mitmtape.mcp", None)
    monkeypatch.delattr(mitmtape, "mcp")
    assert cli.main(["--db", str(tmp_path / "t.db"), "mcp"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("mitmtape: the MCP server needs the mcp extra (pip install")
    assert len(error.strip().splitlines()) == 1
