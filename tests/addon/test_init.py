from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import addonmanager, exceptions
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow

from mitmtape.addon import MitmTape
from mitmtape.store import Store


def stored(addon: MitmTape) -> list:
    addon.recorder.flush()
    store = addon.recorder.store
    assert store is not None
    session = store.active_session().id
    return [r for b in store.iter_flow_batches(session) for r in b]


def test_completed_failed_and_websocket_flows_are_recorded(tape) -> None:
    addon, _ = tape
    addon.response(tflow.tflow(resp=True))
    addon.error(tflow.tflow(err=True))
    websocket = tflow.twebsocketflow()
    addon.response(websocket)  # the upgrade: recorded once, when the websocket ends
    addon.websocket_end(websocket)
    records = stored(addon)
    assert len(records) == 3
    assert [r.error is not None for r in records].count(True) == 1
    assert [r.websocket is not None for r in records].count(True) == 1


def test_error_after_response_is_not_a_second_record(tape) -> None:
    addon, _ = tape
    flow = tflow.tflow(resp=True)
    addon.response(flow)
    flow.error = tflow.terr("client disconnected")
    addon.error(flow)
    assert len(stored(addon)) == 1


def test_replay_of_the_same_flow_is_a_new_record(tape) -> None:
    addon, _ = tape
    flow = tflow.tflow(resp=True)
    addon.response(flow)
    flow.is_replay = "request"
    flow.response = tflow.tresp()
    addon.response(flow)
    assert [r.source for r in stored(addon)] == ["proxy", "replay"]


def test_second_flow_on_a_connection_has_no_connect_time(tape) -> None:
    addon, _ = tape
    first = tflow.tflow(resp=True)
    second = tflow.tflow(resp=True)
    second.server_conn = first.server_conn
    addon.response(first)
    addon.response(second)
    addon.server_disconnected(ServerConnectionHookData(first.server_conn, first.client_conn))
    third = tflow.tflow(resp=True)
    third.server_conn = first.server_conn  # same id, but seen again after a disconnect
    addon.response(third)
    connects = [r.timings.connect for r in stored(addon)]
    assert connects[0] > 0 and connects[1] == -1 and connects[2] > 0


def test_tape_record_off_records_nothing_and_on_again_records(tape) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_record=False)
    addon.response(tflow.tflow(resp=True))
    assert stored(addon) == []
    tctx.configure(addon, tape_record=True)
    addon.response(tflow.tflow(resp=True))
    assert len(stored(addon)) == 1


def test_tape_session_option_creates_and_activates(tape) -> None:
    addon, tctx = tape
    tctx.configure(addon, tape_session="checkout flow")
    addon.response(tflow.tflow(resp=True))
    addon.recorder.flush()
    store = addon.recorder.store
    assert store is not None
    assert store.active_session().name == "checkout flow"
    assert store.get_session("checkout flow").flow_count == 1


def test_corrupt_database_at_runtime_is_an_option_error(tape, tmp_path: Path) -> None:
    addon, tctx = tape
    addon.running()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(exceptions.OptionsError, match="not a usable mitmtape database"):
        tctx.configure(addon, tape_db=str(bad))
    assert bad.read_bytes() == b"garbage" * 100


def test_default_database_lives_under_confdir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MITMTAPE_DB", raising=False)
    addon = MitmTape()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confdir=str(tmp_path / "conf"))
        assert addon.recorder.store is not None
        assert addon.recorder.store.path == tmp_path / "conf" / "mitmtape" / "mitmtape.db"
        addon.done()


def test_done_flushes_pending_records(tmp_path: Path) -> None:
    addon = MitmTape()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, tape_db=str(tmp_path / "t.db"))
        for _ in range(50):
            addon.response(tflow.tflow(resp=True))
        addon.done()
    reopened = Store(tmp_path / "t.db")
    assert reopened.active_session().flow_count == 50
    reopened.close()


def test_mitmtape_is_one_addon_node_that_brings_every_command(tape) -> None:
    """mitmproxy offers each of a flow's events to every addon node; mitmtape adds one."""
    addon, tctx = tape
    assert list(addonmanager.traverse([addon])) == [addon]
    registered = {name for name in tctx.master.commands.commands if name.startswith("tape.")}
    assert registered == {
        "tape.compare", "tape.compare.deep", "tape.copy", "tape.copy.file", "tape.copy.targets",
        "tape.export", "tape.export.flows", "tape.export.formats", "tape.export.session",
        "tape.import", "tape.import.formats", "tape.import.new", "tape.keys",
        "tape.replay.client", "tape.replay.server", "tape.session.delete", "tape.session.list",
        "tape.session.new", "tape.session.rename", "tape.session.switch",
    }  # fmt: skip
    options = {
        "tape_api", "tape_api_port", "tape_api_token", "tape_export_on_exit", "tape_keys",
        "tape_redact", "tape_redact_names", "tape_redact_bodies", "tape_server_replay",
        "tape_record_replayed", "tape_replay_ignore",
    }  # fmt: skip
    assert options <= set(tctx.options.keys())
