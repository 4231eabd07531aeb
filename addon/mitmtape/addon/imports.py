"""Import doors of the addon: `tape.import`, `tape.import.new` and `tape.import.formats`.

Imports run on a job thread. Imported flows also appear in mitmproxy's flow list (console
and mitmweb; mitmdump has none), rebuilt from their records so they can be inspected and
replayed there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mitmproxy import command, ctx, exceptions, http, types

from mitmtape.addon.recorder import Recorder
from mitmtape.capture.record import record_to_flow
from mitmtape.importers import import_file, import_new_session
from mitmtape.importers.formats import AUTO, IMPORTERS
from mitmtape.importers.summary import outcome
from mitmtape.model import FlowRecord, Session
from mitmtape.store import Store, StoreError

logger = logging.getLogger(__name__)

FORMAT_CHOICE = types.Choice("tape.import.formats")
ViewAdder = Callable[[list[http.HTTPFlow]], None]


def compare_hint(active: Session, imported: Session) -> str:
    return f"compare it with the active session: tape.compare {active.id} {imported.id}"


def check_format(name: str) -> None:
    """Calls from scripts and mitmweb's endpoint may bypass the console's Choice check."""
    if name != AUTO and name not in IMPORTERS:
        known = ", ".join([AUTO, *IMPORTERS])
        raise exceptions.CommandError(f"unknown import format {name!r}; choose one of {known}")


class ImportCommands:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def _view_adder(self) -> ViewAdder | None:
        """Adds flows to mitmproxy's view on the event loop, from any thread; None without one."""
        view = ctx.master.addons.get("view")
        if view is None:
            return None
        loop = self.recorder.loop
        if loop is None:
            return view.add
        return lambda flows: loop.call_soon_threadsafe(view.add, flows)

    def _active(self) -> tuple[Store, Session]:
        """The store and the session being recorded into; a store error is a CommandError."""
        store = self.recorder.require_store()
        try:
            return store, store.get_session(self.recorder.session_id)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None

    @command.command("tape.import.formats")
    def formats(self) -> Sequence[str]:
        """The import formats, for choosers: `auto` decides by the file's content."""
        return [AUTO, *IMPORTERS]

    @command.command("tape.import")
    @command.argument("format", type=FORMAT_CHOICE)
    def import_into_active(self, path: types.Path, format: str = AUTO) -> None:
        """Import a HAR or mitmtape JSON file into the active session."""
        check_format(format)
        store, session = self._active()
        add_to_view = self._view_adder()
        cancel = self.recorder.cancelled

        def shown(records: list[FlowRecord]) -> None:
            if add_to_view is not None:
                add_to_view([record_to_flow(record) for record in records])

        def work() -> str:
            result = import_file(store, path, session.id, format, cancel, on_written=shown)
            return f"{outcome(result)} from {path} into {session.name!r}"

        self.recorder.run(work, f"import of {path}")

    @command.command("tape.import.new")
    @command.argument("format", type=FORMAT_CHOICE)
    def import_into_new(self, path: types.Path, format: str = AUTO) -> None:
        """Import a .har or .json file into a new session `{file} (imported)`."""
        check_format(format)
        store, active = self._active()
        add_to_view = self._view_adder()
        cancel = self.recorder.cancelled
        rebuilt: list[http.HTTPFlow] = []

        def keep(records: list[FlowRecord]) -> None:
            if add_to_view is not None:
                rebuilt.extend(record_to_flow(record) for record in records)

        def work() -> str:
            session, result = import_new_session(store, path, format, cancel, on_written=keep)
            if add_to_view is not None:
                add_to_view(rebuilt)  # only now: a failed import leaves nothing behind
            return f"{outcome(result)} into {session.name!r}; {compare_hint(active, session)}"

        self.recorder.run(work, f"import of {path}")
