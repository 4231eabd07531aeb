"""Copying sessions from one store to another (`mitmtape sync`), either engine either way.

Everything keeps its id, so a copy can be run again at any time: a flow or an artifact already
there is not written twice, a session already there is extended with what it lacks, and a
session whose name is taken there by another session arrives under `{name} (2)`. The flows
stream a batch at a time, each batch its own transaction, so memory stays flat and a sync cut
short keeps every batch it wrote; running it again finishes the work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mitmtape.model import Session
from mitmtape.store import Artifact, ArtifactNotFound, Store, StoreError
from mitmtape.text import count

# Flows read from the source and written to the target per transaction.
SYNC_BATCH = 5_000
# Artifact descriptions listed per query; their bytes are then read one artifact at a time.
ARTIFACT_PAGE = 100

Progress = Callable[[int, int], None]


class SyncError(StoreError):
    """A sync that cannot start or go on: the message says why."""


class SyncCancelled(SyncError):
    """The sync stopped at a batch boundary on request; `result` is what was written."""

    def __init__(self, result: SyncResult) -> None:
        super().__init__(
            f"sync interrupted; {count(result.flows, 'flow')} copied before were kept "
            "(run it again to copy the rest)"
        )
        self.result = result


@dataclass(slots=True)
class SessionSync:
    """One session's copy: where it arrived and what was written."""

    id: str
    name: str  # at the source
    arrived_as: str  # at the target
    copied: int = 0
    already_there: int = 0
    artifacts: int = 0

    @property
    def renamed(self) -> bool:
        return self.arrived_as != self.name

    def message(self) -> str:
        line = (
            f"synced {self.name!r} ({self.id}): {count(self.copied, 'flow')} copied, "
            f"{self.already_there:,} already there"
        )
        if self.artifacts:
            line += f", {count(self.artifacts, 'artifact')} copied"
        if self.renamed:
            line += f", arrived as {self.arrived_as!r}"
        return line


@dataclass(slots=True)
class SyncResult:
    sessions: list[SessionSync] = field(default_factory=list)

    @property
    def flows(self) -> int:
        return sum(session.copied for session in self.sessions)

    def to_json(self) -> dict[str, Any]:
        """The three counts scripts read, and the sessions that arrived under another name."""
        return {
            "sessions": len(self.sessions),
            "flows": self.flows,
            "skipped": sum(session.already_there for session in self.sessions),
            "artifacts": sum(session.artifacts for session in self.sessions),
            "renamed": [
                {"id": s.id, "name": s.name, "arrived_as": s.arrived_as}
                for s in self.sessions
                if s.renamed
            ],
        }


def same_database(source: Store, target: Store) -> bool:
    """Whether both stores are one database (a SQLite file under two spellings included)."""
    if source.path is not None and target.path is not None:
        return os.path.realpath(source.path) == os.path.realpath(target.path)
    return source.location == target.location


def sync_sessions(
    source: Store,
    target: Store,
    refs: Sequence[str] | None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] = lambda: False,
) -> SyncResult:
    """Copy the sessions named by `refs` (ids or exact names; None: every session).

    Every name is resolved before anything is written, so a typo copies nothing.
    """
    if same_database(source, target):
        raise SyncError(f"{target.shown} is the database being synced from; name another")
    sessions = source.list_sessions() if refs is None else _resolve(source, refs)
    total = sum(session.flow_count for session in sessions)
    result = SyncResult()
    done = 0
    for session in sessions:
        synced = SessionSync(session.id, session.name, target.adopt_session(session).name)
        result.sessions.append(synced)
        for batch in source.iter_flow_batches(session.id, batch_size=SYNC_BATCH):
            if cancel():
                raise SyncCancelled(result)
            written = target.add_new_flows(batch)
            synced.copied += written
            synced.already_there += len(batch) - written
            done += len(batch)
            if progress is not None:
                progress(done, total)
        synced.artifacts = sum(target.add_new_artifact(a) for a in _artifacts(source, session))
    if progress is not None and done < total:
        progress(total, total)  # flows deleted at the source meanwhile: the bar still ends
    return result


def _resolve(source: Store, refs: Sequence[str]) -> list[Session]:
    """The sessions named, each once, in the order given."""
    found: dict[str, Session] = {}
    for ref in refs:
        session = source.get_session(ref)
        found.setdefault(session.id, session)
    return list(found.values())


def _artifacts(source: Store, session: Session) -> Iterator[Artifact]:
    """The session's artifacts with their bytes, one in memory at a time."""
    offset = 0
    while page := source.list_artifacts(session_id=session.id, limit=ARTIFACT_PAGE, offset=offset):
        for listed in page:
            try:
                artifact = source.get_artifact(listed.id)
            except ArtifactNotFound:
                continue  # deleted since it was listed
            yield artifact
        offset += len(page)
