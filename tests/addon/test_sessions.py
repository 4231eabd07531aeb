from __future__ import annotations

import re

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from mitmtape.addon import MitmTape


def test_session_commands_return_nothing_and_tell_the_status_bar(tape, alerts) -> None:
    addon, tctx = tape
    sessions = addon.sessions
    assert tctx.command(sessions.session_new, "one") is None
    assert re.fullmatch(r"Recording into new session 'one' \([0-9A-Z]{26}\)", alerts()[-1])
    addon.response(tflow.tflow(resp=True))
    tctx.command(sessions.session_new, "two")
    addon.response(tflow.tflow(resp=True))
    addon.response(tflow.tflow(resp=True))
    assert tctx.command(sessions.session_switch, "one") is None
    assert alerts()[-1].startswith("Recording into session 'one' (")
    assert tctx.command(sessions.session_rename, "two", "second") is None
    assert alerts()[-1].endswith("is now named 'second'")
    store = addon.recorder.store
    assert store is not None
    addon.recorder.flush()
    assert store.get_session("second").flow_count == 2
    assert store.active_session().name == "one"
    assert tctx.command(sessions.session_delete, "one") is None
    assert alerts()[-1].startswith("Deleted session 'one' with 1 flows; recording into ")
    assert store.find_session("one") is None
    assert addon.recorder.session_id == store.active_session().id


def test_switching_keeps_each_flow_in_the_session_it_was_captured_for(tape) -> None:
    """No flush on a switch: flows still queued keep the session they were captured in."""
    addon, tctx = tape
    first = addon.recorder.session_id
    for _ in range(20):
        addon.response(tflow.tflow(resp=True))
    tctx.command(addon.sessions.session_new, "next")
    addon.response(tflow.tflow(resp=True))
    addon.recorder.flush()
    store = addon.recorder.store
    assert store is not None
    assert store.get_session(first).flow_count == 20
    assert store.get_session("next").flow_count == 1


def test_session_list_is_an_answer_with_counts(tape, alerts) -> None:
    addon, tctx = tape
    addon.response(tflow.tflow(resp=True))
    assert tctx.command(addon.sessions.session_list) is None
    [line] = alerts()[-1].splitlines()
    assert re.fullmatch(r"\* [0-9A-Z]{26}        1 flows  .+", line)


@pytest.mark.parametrize(
    ("method", "args", "problem"),
    [
        ("session_switch", ["nope"], "no session with id or name 'nope'"),
        ("session_delete", ["nope"], "no session with id or name 'nope'"),
        ("session_rename", ["nope", "x"], "no session"),
        ("session_new", [""], "cannot be empty"),
        ("compare", ["nope", "nope"], "no session with id or name 'nope'"),
    ],
)
def test_session_command_errors_are_clear(tape, method: str, args: list[str], problem: str):
    addon, tctx = tape
    with pytest.raises(exceptions.CommandError, match=problem):
        tctx.command(getattr(addon.sessions, method), *args)


def test_compare_answers_with_the_differences(tape, alerts) -> None:
    addon, tctx = tape
    addon.response(tflow.tflow(resp=True))
    before = addon.recorder.session_id
    tctx.command(addon.sessions.session_new, "after")
    flow = tflow.tflow(resp=True)
    flow.request.path = "/other"
    addon.response(flow)
    assert tctx.command(addon.sessions.compare, before, "after") is None
    text = alerts()[-1]
    assert "1 added, 1 removed" in text and "+ GET address/other" in text


def test_no_database_is_a_command_error() -> None:
    addon = MitmTape()
    with pytest.raises(exceptions.CommandError, match="no database open"):
        addon.sessions.session_list()


def test_compare_deep_answers_with_what_changed_inside(tape, alerts) -> None:
    addon, tctx = tape
    addon.response(tflow.tflow(resp=True))
    before = addon.recorder.session_id
    tctx.command(addon.sessions.session_new, "after")
    flow = tflow.tflow(resp=True)
    flow.response.headers["x-new"] = "1"
    addon.response(flow)
    assert tctx.command(addon.sessions.compare_deep, before, "after") is None
    text = alerts()[-1]
    assert "1 response changes" in text
    assert text.endswith("Responses changed:\n  GET address/path  header added: x-new")
