"""Import doors of the addon: `tape.import` and `tape.import.new`.

Imports run on a worker thread. Imported flows also appear in mitmproxy's flow list (console
and mitmweb; mitmdump has none), rebuilt from their records so they can be inspected and
replayed there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mitmproxy import command, ctx, http, types

from mitmtape.capture.record import record_to_flow
from mitmtape.importers import import_file, import_new_session
from mitmtape.importers.summary import outcome
from mitmtape.model import FlowRecord, Session

if TYPE_CHECKING:
    from mitmtape.addon import MitmTape

logger = logging.getLogger(__name__)


def compare_hint(active: Session, imported: Session) -> str:
    return f"compare it with the active session: tape.compare {active.id} {imported.id}"


class ImportCommands:
    def __init__(self, tape: MitmTape) -> None:
        self.tape = tape

    def _view_adder(self) -> Callable[[list[http.HTTPFlow]], None] | None:
        """Adds flows to mitmproxy's view on the event loop, from any thread; None without one."""
        view = ctx.master.addons.get("view")
        if view is None:
            return None
        if not self.tape.is_running:
            return view.add
        loop = asyncio.get_running_loop()
        return lambda flows: loop.call_soon_threadsafe(view.add, flows)

    @command.command("tape.import")
    def import_into_active(self, path: types.Path) -> str:
        """Import a HAR or mitmtape JSON file into the active session."""
        store = self.tape.require_store()
        session = store.get_session(self.tape.session_id)
        add_to_view = self._view_adder()

        def shown(records: list[FlowRecord]) -> None:
            if add_to_view is not None:
                add_to_view([record_to_flow(record) for record in records])

        def work() -> str:
            result = import_file(store, path, session.id, on_written=shown)
            return f"{outcome(result)} from {path} into {session.name!r}"

        return self.tape.background(work, f"import of {path}")

    @command.command("tape.import.new")
    def import_into_new(self, path: types.Path) -> str:
        """Import a .har or .json file into a new session `{file} (imported)`."""
        store = self.tape.require_store()
        active = store.get_session(self.tape.session_id)
        add_to_view = self._view_adder()
        rebuilt: list[http.HTTPFlow] = []

        def keep(records: list[FlowRecord]) -> None:
            if add_to_view is not None:
                rebuilt.extend(record_to_flow(record) for record in records)

        def work() -> str:
            session, result = import_new_session(store, path, on_written=keep)
            if add_to_view is not None:
                add_to_view(rebuilt)  # only now: a failed import leaves nothing behind
            return (
                f"{outcome(result)} into new session {session.name!r}; "
                f"{compare_hint(active, session)}"
            )

        return self.tape.background(work, f"import of {path}")
