"""Background jobs: commands return at once, jobs tell their outcome, and `done` waits for them."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from mitmtape.addon import exports, recorder
from mitmtape.export.pipeline import ExportCancelled

WAIT_S = 10.0


def wait_for(condition, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


@pytest.fixture
def held_exports(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Exports that start, then wait for the test to let them go on (a slow, large export)."""
    started, go_on = threading.Event(), threading.Event()
    real = exports.export_session

    def held(*args, **kwargs):
        started.set()
        assert go_on.wait(WAIT_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(exports, "export_session", held)
    return started, go_on


def test_done_lets_a_running_export_finish_before_export_on_exit_and_closing(
    tape, held_exports, caplog, alerts, tmp_path: Path
) -> None:
    addon, tctx = tape
    started, go_on = held_exports
    tctx.configure(addon, tape_export_on_exit=f"json:{tmp_path / 'on-exit.json'}")
    addon.running()
    addon.response(tflow.tflow(resp=True))
    tctx.command(addon.exports.export, "json", str(tmp_path / "running.json"))
    assert started.wait(WAIT_S)
    caplog.set_level(logging.INFO, logger="mitmtape")
    stopping = threading.Thread(target=addon.done)
    stopping.start()
    wait_for(lambda: any("waiting up to 30 s for export" in m for m in caplog.messages))
    store = addon.recorder.store
    assert store is not None and stopping.is_alive()
    go_on.set()
    stopping.join(WAIT_S)
    assert not stopping.is_alive()
    assert addon.recorder.store is None
    assert len(json.loads((tmp_path / "running.json").read_text())) == 1
    assert alerts()[0].startswith(f"Exported 1 flow to {tmp_path / 'running.json'}")
    assert (tmp_path / "on-exit.json").exists()
    assert errors(caplog) == []


def test_done_cancels_a_job_that_outlives_the_wait(tape, monkeypatch, caplog) -> None:
    addon, _tctx = tape
    monkeypatch.setattr(recorder, "JOBS_FINISH_S", 0.05)
    addon.running()

    def slow() -> str:
        wait_for(addon.recorder.cancelled)
        raise ExportCancelled("export cancelled; no file was written")

    addon.recorder.run(slow, "export of 'big'")
    addon.done()
    assert errors(caplog) == [
        "mitmtape: export of 'big' failed: export cancelled; no file was written"
    ]


def test_a_job_that_ignores_cancelling_keeps_its_store_open(tape, monkeypatch, caplog) -> None:
    addon, _tctx = tape
    monkeypatch.setattr(recorder, "JOBS_FINISH_S", 0.05)
    monkeypatch.setattr(recorder, "JOBS_CANCEL_S", 0.05)
    addon.running()
    store = addon.recorder.store
    release = threading.Event()
    counted: list[int] = []

    def stubborn() -> str:
        release.wait(WAIT_S)
        counted.append(len(store.list_sessions()))  # the store is still open
        return "done"

    addon.recorder.run(stubborn, "import of huge.har")
    addon.done()
    assert errors(caplog) == ["mitmtape: stopping while import of huge.har still runs"]
    release.set()
    wait_for(lambda: counted == [1])
    store.close()


def test_a_failed_job_is_an_error_in_the_log(tape, caplog, tmp_path: Path) -> None:
    addon, tctx = tape
    addon.running()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    tctx.command(addon.exports.export, "har", str(blocker / "x.har"))
    addon.recorder.finish_jobs()
    [message] = errors(caplog)
    assert message.startswith("mitmtape: export of ") and f"cannot write {blocker}" in message


def test_an_answer_is_shown_from_the_event_loop(tape, alerts) -> None:
    addon, tctx = tape
    addon.running()
    tctx.command(addon.sessions.session_list)
    addon.recorder.finish_jobs()
    assert alerts() == []  # computed on a job thread, waiting for the loop to show it
    tctx.master.event_loop.run_until_complete(asyncio.sleep(0))
    assert "0 flows" in alerts()[-1]


def test_the_database_cannot_change_under_a_running_job(tape, held_exports, tmp_path) -> None:
    addon, tctx = tape
    started, go_on = held_exports
    addon.running()
    tctx.command(addon.exports.export, "json", str(tmp_path / "x.json"))
    assert started.wait(WAIT_S)
    with pytest.raises(exceptions.OptionsError, match="1 exports or imports are still running"):
        tctx.configure(addon, tape_db=str(tmp_path / "other.db"))
    go_on.set()
    addon.recorder.finish_jobs()
    assert (tmp_path / "x.json").exists()
