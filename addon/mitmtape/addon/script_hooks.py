"""Hook names bound to None in mitmtape's script module, so mitmproxy's lookups of them hit.

mitmproxy offers every event to a script's module as well as to the addons the module lists: it
looks the event's name up on the module, `getattr(module, name, None)`, some 16 times per HTTP
request. On Python 3.11 looking up a name a module lacks is slow: the module formats an
AttributeError message, twice, to throw it away (3.6 µs against 0.1 µs for a name it binds;
Python 3.12 made the miss cheap). Counted with callgrind on mitmproxy 11, binding them saves
some 62,000 instructions per request, 0.8% of the proxy's work: more than mitmtape's capture
costs. mitmproxy skips a hook bound to None exactly as one that is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from mitmproxy import hooks

# Hooks mitmproxy has retired: it warns about an addon that has the name at all, even as None.
RETIRED_HOOKS = frozenset({"add_log"})


def unhandled_hooks(namespace: Mapping[str, object]) -> dict[str, None]:
    """Each hook mitmproxy knows that namespace leaves unbound, bound to None.

    mitmproxy registers its hooks as it imports the layers that fire them; a script is loaded
    once they all are.
    """
    return {
        name: None
        for name in hooks.all_hooks
        if name not in namespace and name not in RETIRED_HOOKS
    }
