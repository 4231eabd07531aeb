from __future__ import annotations

from mitmproxy.tools.console import defaultkeys, keymap

from mitmtape.addon.keys import BINDINGS


def test_keys_are_free_in_this_mitmproxy_and_name_real_commands(tape) -> None:
    _addon, tctx = tape
    defaults = keymap.Keymap(tctx.master)
    defaultkeys.map(defaults)
    for binding in BINDINGS:
        for context in binding.contexts:
            taken = defaults.keys[context].get(binding.key)
            assert taken is None, f"{binding.key} is already {taken.command} in {context}"
            assert defaults.keys["global"].get(binding.key) is None
        commands = [line.split()[0] for line in binding.command.splitlines()]
        for name in commands:
            assert name.startswith("console.") or name in tctx.master.commands.commands, name


def console_keymap(tctx) -> keymap.Keymap:
    """The console's real keymap with mitmproxy's defaults, on the test master."""
    keys = keymap.Keymap(tctx.master)
    defaultkeys.map(keys)
    tctx.master.keymap = keys
    return keys


def ours(keys: keymap.Keymap) -> set[tuple[str, str]]:
    return {
        (context, b.key)
        for b in BINDINGS
        for context in b.contexts
        if (bound := keys.get(context, b.key)) is not None and bound.command == b.command
    }


EVERY_BINDING = {(context, b.key) for b in BINDINGS for context in b.contexts}


def test_tape_keys_binds_on_start_and_done_removes_them(tape) -> None:
    addon, tctx = tape
    keys = console_keymap(tctx)
    addon.running()
    assert ours(keys) == EVERY_BINDING
    addon.keys.done()
    assert ours(keys) == set()
    assert keys.get("global", "?") is not None  # mitmproxy's own keys stay


def test_tape_keys_false_binds_none_and_flipping_it_at_runtime_binds_again(tape) -> None:
    addon, tctx = tape
    keys = console_keymap(tctx)
    tctx.configure(addon, tape_keys=False)
    addon.running()
    assert ours(keys) == set()
    tctx.configure(addon, tape_keys=True)
    assert ours(keys) == EVERY_BINDING
    tctx.configure(addon, tape_keys=False)
    assert ours(keys) == set()


def test_unbinding_leaves_a_key_the_person_rebound(tape) -> None:
    addon, tctx = tape
    keys = console_keymap(tctx)
    addon.running()
    keys.add("T", "view.focus.next", ["global"], "my own T")
    addon.keys.done()
    assert keys.get("global", "T").command == "view.focus.next"


def test_tape_keys_lists_every_binding(tape) -> None:
    addon, tctx = tape
    listed = tctx.command(addon.keys.keys)
    assert [line.split()[0] for line in listed] == [b.key for b in BINDINGS]
