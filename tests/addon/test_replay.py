"""The replay commands in mitmproxy's test context, with mitmproxy's own playback addons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.addons.clientplayback import ClientPlayback
from mitmproxy.addons.serverplayback import ServerPlayback
from mitmproxy.test import taddons, tflow, tutils

from mitmtape.addon import MitmTape
from mitmtape.model import Body, FlowRecord
from mitmtape.store import Store
from tests.conftest import RecordFactory

Tape = tuple[MitmTape, ServerPlayback, ClientPlayback, taddons.context]


@pytest.fixture
def tape(tmp_path: Path) -> Iterator[Tape]:
    addon, server, client = MitmTape(), ServerPlayback(), ClientPlayback()
    with taddons.context(addon, server, client) as tctx:
        tctx.configure(addon, tape_db=str(tmp_path / "tape.db"))
        yield addon, server, client, tctx
        addon.done()


def recorded(store: Store, make_record: RecordFactory, *records: FlowRecord) -> str:
    session = store.create_session("recorded")
    for record in records:
        record.session_id = session.id
    store.add_flows(records)
    return session.id


def asked(url: str) -> tflow.http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = tutils.treq()
    flow.request.url = url
    flow.request.content = b""  # the recorded GETs had no body; server replay matches on it
    return flow


def test_server_replay_answers_from_the_session_and_404s_the_rest(
    tape: Tape, make_record: RecordFactory, alerts
) -> None:
    addon, server, _, tctx = tape
    store = addon.recorder.store
    recorded(
        store,
        make_record,
        make_record(url="http://api.test/a", request_headers=[], response_body=b"A!"),
    )
    tctx.configure(server, server_replay_extra="404")
    assert tctx.command(addon.replay.replay_server, "recorded") is None
    assert alerts()[-1] == "Server replay: answering from 1 flows of 'recorded'"
    known, unknown = asked("http://api.test/a"), asked("http://api.test/b")
    for flow in (unknown, known):  # each recorded answer serves once (server_replay_reuse)
        server.request(flow)
    assert known.response.raw_content == b"A!" and known.is_replay == "response"
    assert unknown.response.status_code == 404


def test_a_body_not_recorded_is_served_with_headers_made_true(
    tape: Tape, make_record: RecordFactory
) -> None:
    addon, server, _, tctx = tape
    record = make_record(
        url="http://api.test/big",
        request_headers=[],
        response_headers=[("content-length", "9000"), ("content-encoding", "gzip")],
    )
    assert record.response is not None
    record.response.body = Body(b"", 9000, "too-large")
    recorded(addon.recorder.store, make_record, record)
    tctx.configure(addon, tape_server_replay="recorded")
    flow = asked("http://api.test/big")
    server.request(flow)
    assert flow.response.raw_content == b""
    assert flow.response.headers.fields == ((b"content-length", b"0"),)


def test_served_flows_are_recorded_only_when_asked(tape: Tape) -> None:
    addon, _, _, tctx = tape
    store = addon.recorder.store
    served = tflow.tflow(resp=True)
    served.is_replay = "response"
    addon.response(served)
    tctx.configure(addon, tape_record_replayed=True)
    addon.response(tflow.tflow(resp=True))  # an ordinary flow, to tell the two apart
    again = tflow.tflow(resp=True)
    again.is_replay = "response"
    addon.response(again)
    addon.recorder.flush()
    [active] = [s for s in store.list_sessions() if s.active]
    records = [r for batch in store.iter_flow_batches(active.id) for r in batch]
    assert [r.source for r in records] == ["proxy", "replay"]


def test_client_replay_records_answers_into_a_new_session_with_their_originals(
    tape: Tape, make_record: RecordFactory, alerts
) -> None:
    addon, _, client, tctx = tape
    store = addon.recorder.store
    first, second = make_record(url="http://api.test/one"), make_record(url="http://api.test/two")
    socket = make_record(url="http://api.test/ws", websocket=[])
    original = recorded(store, make_record, first, second, socket)
    target = "http://127.0.0.1:9000"
    assert tctx.command(addon.replay.replay_client, "recorded", "", target) is None
    replaying = alerts()[-1]
    assert replaying.startswith("Replaying 2 flows of 'recorded' into 'recorded (replay ")
    sent = [client.queue.get_nowait() for _ in range(client.queue.qsize())]
    assert [f.request.url for f in sent] == [
        "http://127.0.0.1:9000/one",
        "http://127.0.0.1:9000/two",
    ]
    sent[0].response = tutils.tresp(content=b"changed")
    addon.response(sent[0])
    sent[1].error = tflow.terr()
    addon.error(sent[1])
    [replay] = [s for s in store.list_sessions() if s.name.startswith("recorded (replay ")]
    assert alerts()[-1] == (
        f"Replayed 2 flows of 'recorded' into {replay.name!r}: 1 answered, 1 failed; "
        f"1 WebSocket flows not replayed; tape.compare {original} {replay.id}"
    )
    records = [r for batch in store.iter_flow_batches(replay.id) for r in batch]
    assert [r.metadata["replay_of"] for r in records] == [first.id, second.id]
    assert {r.source for r in records} == {"replay"}
    assert store.get_session(original).flow_count == 3  # nothing of the original changes


def test_a_filter_picks_the_requests_to_replay(tape: Tape, make_record: RecordFactory) -> None:
    addon, _, client, tctx = tape
    store = addon.recorder.store
    posted = make_record(method="POST", url="http://api.test/p")
    recorded(store, make_record, make_record(url="http://api.test/g"), posted)
    tctx.command(addon.replay.replay_client, "recorded", "~m POST")
    assert [client.queue.get_nowait().request.method] == ["POST"]
    assert client.queue.empty()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("recorded", "~q ((("), "invalid mitmproxy filter expression '~q ((('"),
        (
            ("recorded", "", "ftp://x"),
            "replay target must be a URL such as http://127.0.0.1:9000, not 'ftp://x'",
        ),
        (("missing",), "no session with id or name 'missing'"),
    ],
)
def test_a_bad_replay_request_is_one_sentence(
    tape: Tape, make_record: RecordFactory, args: tuple[str, ...], message: str
) -> None:
    addon, _, _, tctx = tape
    recorded(addon.recorder.store, make_record, make_record())
    with pytest.raises(exceptions.CommandError) as refused:
        tctx.command(addon.replay.replay_client, *args)
    assert str(refused.value) == message


def test_replay_ignore_paths_are_checked_when_set(tape: Tape) -> None:
    addon, _, _, tctx = tape
    with pytest.raises(exceptions.OptionsError, match="is not a JSON path"):
        tctx.configure(addon, tape_replay_ignore="timestamp,meta..id")
    tctx.configure(addon, tape_replay_ignore="timestamp,meta.requestId")
