"""Session doors of the addon: `tape.session.*`, `tape.compare` and `tape.compare.deep`.

Sessions are named by id or exact name (plain strings: a choice list would query the store on
the event loop and refuse ids). What reads whole sessions (the listing counts flows, a compare
reads endpoints, a delete removes flows) runs on a job thread.
"""

from __future__ import annotations

from mitmproxy import command, exceptions

from mitmtape.addon.outcome import tell
from mitmtape.addon.recorder import Recorder
from mitmtape.addon.replay import replay_ignore
from mitmtape.compare import compare_sessions
from mitmtape.model import Session
from mitmtape.store import Store, StoreError


def found(store: Store, ref: str) -> Session:
    """The session `ref` names, or a CommandError saying none does."""
    try:
        return store.get_session(ref)
    except StoreError as exc:
        raise exceptions.CommandError(str(exc)) from None


def listing(store: Store) -> str:
    """One line per session: `*` marks the active one, then id, flow count and name."""
    return "\n".join(
        f"{'*' if s.active else ' '} {s.id}  {s.flow_count:>7} flows  {s.name}"
        for s in store.list_sessions()
    )


class SessionCommands:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @command.command("tape.session.new")
    def session_new(self, name: str) -> None:
        """Start a new session with this name and record into it."""
        store = self.recorder.require_store()
        try:
            session = store.create_session(name)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        self.recorder.activate(session.id)
        tell(f"Recording into new session {session.name!r} ({session.id})")

    @command.command("tape.session.list")
    def session_list(self) -> None:
        """List sessions (the active one marked `*`) with their flow counts, in the data viewer."""
        store = self.recorder.require_store()

        def work() -> str:
            self.recorder.flush()
            return listing(store)

        self.recorder.answer(work, "the session list")

    @command.command("tape.session.switch")
    def session_switch(self, session: str) -> None:
        """Record into another session, named by id or exact name."""
        chosen = found(self.recorder.require_store(), session)
        self.recorder.activate(chosen.id)
        tell(f"Recording into session {chosen.name!r} ({chosen.id})")

    @command.command("tape.session.rename")
    def session_rename(self, session: str, name: str) -> None:
        """Give a session a new name."""
        try:
            renamed = self.recorder.require_store().rename_session(session, name)
        except StoreError as exc:
            raise exceptions.CommandError(str(exc)) from None
        tell(f"Session {renamed.id} is now named {renamed.name!r}")

    @command.command("tape.session.delete")
    def session_delete(self, session: str) -> None:
        """Delete a session and its flows; deleting the active one moves recording on."""
        store = self.recorder.require_store()
        doomed = found(store, session)

        def work() -> str:
            self.recorder.flush()
            deleted = store.delete_session(doomed.id)
            self.recorder.follow_active_session()
            return (
                f"Deleted session {deleted.name!r} with {deleted.flow_count:,} flows; "
                f"recording into {store.active_session().name!r}"
            )

        self.recorder.run(work, f"deleting session {doomed.name!r}")

    @command.command("tape.compare")
    def compare(self, session_a: str, session_b: str) -> None:
        """Compare two sessions (A before, B after): endpoints added, removed, changed."""
        self._compare(session_a, session_b, deep=False)

    @command.command("tape.compare.deep")
    def compare_deep(self, session_a: str, session_b: str) -> None:
        """Compare two sessions and what is inside their responses: JSON fields, headers,
        content types and body sizes of the endpoints both have."""
        self._compare(session_a, session_b, deep=True)

    def _compare(self, session_a: str, session_b: str, deep: bool) -> None:
        """The comparison is made on a job thread and shown in the data viewer when ready."""
        store = self.recorder.require_store()
        before, after = found(store, session_a), found(store, session_b)
        ignore = replay_ignore()

        def work() -> str:
            self.recorder.flush()
            comparison = compare_sessions(store, before.id, after.id, deep=deep, ignore=ignore)
            return comparison.to_text()

        how = " in depth" if deep else ""
        self.recorder.answer(work, f"comparing {before.name!r} with {after.name!r}{how}")
