"""A session's workspace folder: `report.md` and `poc/`, written there by other tools.

The folder is `{database folder}/workspaces/{session id}/`. mitmtape only reads it, and reads
defensively: files may be large or planted, so sizes are capped and only regular files go into
the proof-of-concept zip (no folders, no symbolic links that could point anywhere).
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from mitmtape.store import Store

WORKSPACES_FOLDER = "workspaces"
REPORT_FILE = "report.md"
POC_FOLDER = "poc"
WORKSPACE_FILE_MAX_BYTES = 10 * 1024 * 1024
SKIPPED_NOTE = "SKIPPED.txt"


class WorkspaceError(Exception):
    pass


class WorkspaceNotFound(WorkspaceError):
    pass


class WorkspaceTooLarge(WorkspaceError):
    pass


@dataclass(slots=True)
class PocArchive:
    """The zip's bytes, and the files left out with the reason for each."""

    data: bytes
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def _regular_file(path: Path) -> bool:
    """A regular file itself, not a link to one (lstat does not follow links)."""
    return stat.S_ISREG(path.lstat().st_mode)


class Workspace:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.path.parent / WORKSPACES_FOLDER

    def folder(self, session_id: str) -> Path:
        """The session's folder (made on demand, so tools know where to write)."""
        session = self.store.get_session(session_id)
        path = self.root / session.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def report(self, session_id: str) -> bytes:
        """`report.md` as bytes; not found or over 10 MB is an error that says which."""
        path = self.folder(session_id) / REPORT_FILE
        if not path.exists() or not _regular_file(path):
            raise WorkspaceNotFound(f"session {session_id} has no {REPORT_FILE}")
        size = path.stat().st_size
        if size > WORKSPACE_FILE_MAX_BYTES:
            raise WorkspaceTooLarge(
                f"{REPORT_FILE} of session {session_id} is {size:,} bytes; "
                f"the limit is {WORKSPACE_FILE_MAX_BYTES:,}"
            )
        return path.read_bytes()

    def poc_archive(self, session_id: str) -> PocArchive:
        """The regular files directly in `poc/`, each at most 10 MB, as one zip.

        Folders and links are left out; a file over the limit is refused and named in
        `SKIPPED.txt` inside the zip, so the receiver knows something is missing.
        """
        folder = self.folder(session_id) / POC_FOLDER
        if not folder.is_dir() or folder.is_symlink():
            raise WorkspaceNotFound(f"session {session_id} has no {POC_FOLDER}/ folder")
        archive = PocArchive(b"")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(folder.iterdir()):
                reason = self._refusal(path)
                if reason:
                    archive.skipped[path.name] = reason
                    continue
                zipped.write(path, arcname=path.name)
                archive.files.append(path.name)
            if not archive.files and not archive.skipped:
                raise WorkspaceNotFound(f"session {session_id} has no files in {POC_FOLDER}/")
            if archive.skipped:
                note = "".join(f"{name}: {why}\n" for name, why in archive.skipped.items())
                zipped.writestr(SKIPPED_NOTE, note)
        archive.data = buffer.getvalue()
        return archive

    def poc_zip(self, session_id: str) -> bytes:
        return self.poc_archive(session_id).data

    @staticmethod
    def _refusal(path: Path) -> str | None:
        if path.is_symlink():
            return "a symbolic link, left out"
        if not _regular_file(path):
            return "not a regular file (a folder?), left out"
        size = path.stat().st_size
        if size > WORKSPACE_FILE_MAX_BYTES:
            return f"{size:,} bytes, over the {WORKSPACE_FILE_MAX_BYTES:,}-byte limit"
        return None
