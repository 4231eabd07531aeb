"""`mitmtape proxy` as a real process: the MitmDump helper's ports, confdir and stop, with the
script and the database left to mitmtape's own subcommand."""

from __future__ import annotations

from pathlib import Path

from mitmtape.store import Store
from tests.e2e.mitmdump import MitmDump


def launched_proxy(folder: Path, mitmtape: str, *extra: str) -> MitmDump:
    """`mitmtape --db DB proxy --listen-host 127.0.0.1 -p PORT ... EXTRA`, not started yet."""
    proxy = MitmDump(folder, *extra, script=False)
    proxy.args = [mitmtape, "--db", str(proxy.db), "proxy", *proxy.args[1:]]
    proxy.script = True  # mitmtape loads the addon: wait for its database as for `-s`
    return proxy


def recorded_paths(db: Path, session: str) -> list[str]:
    """The request paths recorded into `session`, oldest first."""
    store = Store(db)
    try:
        found = store.get_session(session)
        return [r.request.path for b in store.iter_flow_batches(found.id) for r in b]
    finally:
        store.close()


def process_command_line(pid: int) -> list[str]:
    """What a running process was started with (Linux `/proc`): after `os.execv` it is the
    tool's command line under the same process id."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
