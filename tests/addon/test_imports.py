from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

from mitmtape.addon import MitmTape

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"


@pytest.fixture
def tape(tmp_path: Path) -> Iterator[tuple[MitmTape, View, taddons.context]]:
    addon, view = MitmTape(), View()
    with taddons.context(addon, view) as tctx:
        tctx.configure(addon, tape_db=str(tmp_path / "tape.db"))
        yield addon, view, tctx
        addon.done()


def test_import_into_the_active_session_shows_flows_in_the_view(tape) -> None:
    addon, view, tctx = tape
    addon.response(tflow.tflow(resp=True))
    message = tctx.command(
        addon.imports.import_into_active, str(SAMPLES / "chromium-playwright.har")
    )
    assert message.startswith("Imported 9 flows from ")
    assert addon.store is not None
    addon.flush()
    active = addon.store.get_session(addon.session_id)
    assert active.flow_count == 10
    assert len(view) == 9
    assert {f.request.host for f in view} == {"127.0.0.1"}
    assert sum(f.websocket is not None for f in view) == 1


def test_import_new_makes_a_session_and_says_how_to_compare(tape) -> None:
    addon, view, tctx = tape
    path = SAMPLES / "mitmproxy-savehar.har"
    message = tctx.command(addon.imports.import_into_new, str(path))
    assert addon.store is not None
    imported = addon.store.get_session("mitmproxy-savehar.har (imported)")
    assert imported.description == "Imported from mitmproxy-savehar.har"
    assert f"Imported {imported.flow_count} flows into new session" in message
    assert message.endswith(f"tape.compare {addon.session_id} {imported.id}")
    assert len(view) == imported.flow_count == 10
    assert addon.store.active_session().id == addon.session_id  # recording stays where it was


def test_failed_new_session_import_leaves_nothing(tape, tmp_path: Path) -> None:
    addon, view, tctx = tape
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": {"entries": [{"request": {"method": "GET", "url": "http://a/"}}')
    with pytest.raises(exceptions.CommandError, match=r"broken\.har"):
        tctx.command(addon.imports.import_into_new, str(broken))
    assert addon.store is not None
    assert [s.name for s in addon.store.list_sessions()] == [addon.store.active_session().name]
    assert len(view) == 0


def test_wrong_extension_is_refused(tape, tmp_path: Path) -> None:
    addon, _view, tctx = tape
    text = tmp_path / "notes.txt"
    text.write_text("[]")
    with pytest.raises(exceptions.CommandError, match=r"\.har.*\.json|\.json.*\.har"):
        tctx.command(addon.imports.import_into_new, str(text))


def test_exported_json_round_trips_through_import(tape, tmp_path: Path) -> None:
    addon, _view, tctx = tape
    for _ in range(3):
        addon.response(tflow.tflow(resp=True))
    tctx.command(addon.exports.export, "json", str(tmp_path / "a.json"))
    tctx.command(addon.imports.import_into_new, str(tmp_path / "a.json"))
    assert addon.store is not None
    imported = addon.store.get_session("a.json (imported)")
    tctx.command(addon.exports.export_session, imported.id, "json", str(tmp_path / "b.json"))
    first, second = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    strip = ("id", "session_id", "source", "metadata")
    assert [{k: v for k, v in f.items() if k not in strip} for f in first] == [
        {k: v for k, v in f.items() if k not in strip} for f in second
    ]
    assert all(f["metadata"]["import_source"] == "json" for f in second)
