from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

from mitmtape.addon import MitmTape
from mitmtape.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"


@pytest.fixture
def tape(tmp_path: Path) -> Iterator[tuple[MitmTape, View, taddons.context]]:
    addon, view = MitmTape(), View()
    with taddons.context(addon, view) as tctx:
        tctx.configure(addon, tape_db=str(tmp_path / "tape.db"))
        yield addon, view, tctx
        addon.done()


def test_import_into_the_active_session_shows_flows_in_the_view(tape, alerts) -> None:
    addon, view, tctx = tape
    addon.response(tflow.tflow(resp=True))
    sample = SAMPLES / "chromium-playwright.har"
    assert tctx.command(addon.imports.import_into_active, str(sample)) is None
    store = addon.recorder.store
    active = store.get_session(addon.recorder.session_id)
    assert alerts()[-1] == f"Imported 9 flows from {sample} into {active.name!r}"
    addon.recorder.flush()
    assert store.get_session(active.id).flow_count == 10
    assert len(view) == 9
    assert {f.request.host for f in view} == {"127.0.0.1"}
    assert sum(f.websocket is not None for f in view) == 1


def test_import_new_makes_a_session_and_says_how_to_compare(tape, alerts) -> None:
    addon, view, tctx = tape
    path = SAMPLES / "mitmproxy-savehar.har"
    assert tctx.command(addon.imports.import_into_new, str(path)) is None
    store = addon.recorder.store
    imported = store.get_session("mitmproxy-savehar.har (imported)")
    assert imported.description == "Imported from mitmproxy-savehar.har"
    message = alerts()[-1]
    assert message.startswith("Imported 10 flows into 'mitmproxy-savehar.har (imported)'; ")
    assert message.endswith(f"tape.compare {addon.recorder.session_id} {imported.id}")
    assert len(view) == imported.flow_count == 10
    assert store.active_session().id == addon.recorder.session_id  # recording stays put


def test_an_explicit_format_is_a_checked_choice(tape, tmp_path: Path) -> None:
    addon, _view, tctx = tape
    assert tctx.command(addon.imports.formats) == ["auto", "json", "har", "mitm"]
    named = tmp_path / "capture.txt"  # auto-detect refuses the name; an explicit format not
    named.write_bytes((SAMPLES / "mitmproxy-savehar.har").read_bytes())
    tctx.master.commands.call_strings("tape.import.new", [str(named), "har"])
    assert addon.recorder.store.get_session("capture.txt (imported)").flow_count == 10
    with pytest.raises(exceptions.CommandError, match="Invalid choice"):
        tctx.master.commands.call_strings("tape.import", [str(named), "yaml"])
    with pytest.raises(exceptions.CommandError, match="unknown import format 'yaml'"):
        addon.imports.import_into_active(str(named), "yaml")


def test_failed_new_session_import_leaves_nothing(tape, tmp_path: Path) -> None:
    addon, view, tctx = tape
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": {"entries": [{"request": {"method": "GET", "url": "http://a/"}}')
    with pytest.raises(exceptions.CommandError, match=r"broken\.har"):
        tctx.command(addon.imports.import_into_new, str(broken))
    store = addon.recorder.store
    assert [s.name for s in store.list_sessions()] == [store.active_session().name]
    assert len(view) == 0


def test_wrong_extension_is_refused(tape, tmp_path: Path) -> None:
    addon, _view, tctx = tape
    text = tmp_path / "notes.txt"
    text.write_text("[]")
    with pytest.raises(exceptions.CommandError, match=r"\.har.*\.json|\.json.*\.har"):
        tctx.command(addon.imports.import_into_new, str(text))


@pytest.mark.parametrize("method", ["import_into_active", "import_into_new"])
def test_a_session_deleted_by_another_door_is_a_command_error(
    tape, tmp_path: Path, method: str
) -> None:
    """The CLI deleted the session the proxy records into: a CommandError, not a StoreError."""
    addon, _view, tctx = tape
    other = Store(tmp_path / "tape.db")
    other.delete_session(addon.recorder.session_id)
    other.close()
    sample = str(SAMPLES / "mitmproxy-savehar.har")
    with pytest.raises(exceptions.CommandError, match="no session with id or name"):
        tctx.command(getattr(addon.imports, method), sample)


def test_exported_json_round_trips_through_import(tape, tmp_path: Path) -> None:
    addon, _view, tctx = tape
    for _ in range(3):
        addon.response(tflow.tflow(resp=True))
    tctx.command(addon.exports.export, "json", str(tmp_path / "a.json"))
    tctx.command(addon.imports.import_into_new, str(tmp_path / "a.json"))
    imported = addon.recorder.store.get_session("a.json (imported)")
    tctx.command(addon.exports.export_session, imported.id, "json", str(tmp_path / "b.json"))
    first, second = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    strip = ("id", "session_id", "source", "metadata")
    assert [{k: v for k, v in f.items() if k not in strip} for f in first] == [
        {k: v for k, v in f.items() if k not in strip} for f in second
    ]
    assert all(f["metadata"]["import_source"] == "json" for f in second)
