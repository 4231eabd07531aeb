"""mitmtape's script modules bind every hook they leave to their addon as None (script_hooks)."""

from __future__ import annotations

import logging
import types
from pathlib import Path

import pytest
from mitmproxy import hooks
from mitmproxy.addons.script import load_script
from mitmproxy.proxy.layers.http import HttpResponseHook
from mitmproxy.test import taddons, tflow

import mitmtape
from mitmtape.addon import MitmTape
from mitmtape.addon.script_hooks import RETIRED_HOOKS, unhandled_hooks

SCRIPTS = (
    Path(mitmtape.__file__).parents[1] / "tape.py",
    Path(mitmtape.__file__).parent / "script" / "tape.py",
)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.parent.name)
def test_each_script_module_binds_every_current_hook(script: Path) -> None:
    module = load_script(str(script))
    assert module is not None
    [addon] = module.addons
    assert isinstance(addon, MitmTape)
    bound = vars(module)
    assert {"requestheaders", "request", "responseheaders", "response", "error"} <= set(bound)
    for name in set(hooks.all_hooks) - RETIRED_HOOKS:
        assert name in bound and bound[name] is None, name
    assert not RETIRED_HOOKS & set(bound)


def test_a_bound_name_is_kept() -> None:
    assert "response" not in unhandled_hooks({"response": print, "addons": []})
    assert "request" in unhandled_hooks({"response": print})


class Spy:
    def __init__(self) -> None:
        self.responses: list[object] = []

    def response(self, flow: object) -> None:
        self.responses.append(flow)


def test_mitmproxy_still_gives_the_events_to_the_modules_addons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spy = Spy()
    module = types.ModuleType("script")
    module.addons = [spy]
    vars(module).update(unhandled_hooks(vars(module)))
    caplog.set_level(logging.WARNING)
    with taddons.context() as tctx:
        tctx.master.addons.register(module)
        flow = tflow.tflow(resp=True)
        tctx.master.addons.invoke_addon_sync(module, HttpResponseHook(flow))
    assert spy.responses == [flow]
    # A retired hook's name, even bound to None, would make mitmproxy warn at registration.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_retired_hook_bound_would_be_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Why RETIRED_HOOKS exists: mitmproxy checks the name, not the value."""
    module = types.ModuleType("script")
    for name in RETIRED_HOOKS:
        setattr(module, name, None)
    caplog.set_level(logging.WARNING)
    with taddons.context() as tctx:
        tctx.master.addons.register(module)
    assert any("deprecated" in r.getMessage() for r in caplog.records)
