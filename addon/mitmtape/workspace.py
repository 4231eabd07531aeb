"""A session's workspace folder: `report.md` and `poc/`, written there by other tools.

The folder is `{database folder}/workspaces/{session id}/`. mitmtape only reads it, and reads
defensively: files may be large or planted, so sizes are capped and only regular files go into
the proof-of-concept zip (no folders, no symbolic links that could point anywhere).
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mitmtape.store import Store, data_folder

WORKSPACES_FOLDER = "workspaces"
REPORT_FILE = "report.md"
POC_FOLDER = "poc"
WORKSPACE_FILE_MAX_BYTES = 10 * 1024 * 1024
SKIPPED_NOTE = "SKIPPED.txt"
# The zip is made while it is sent, a block of each file at a time: 300 MB of files cost the
# server about this much memory, not 300 MB. Level 1: poc files are often already packed
# (images, captures), and the zip should go out at disk speed.
POC_READ_CHUNK = 1024 * 1024
POC_COMPRESS_LEVEL = 1
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class WorkspaceError(Exception):
    pass


class WorkspaceNotFound(WorkspaceError):
    pass


class WorkspaceTooLarge(WorkspaceError):
    pass


class _ChunkSink:
    """Where zipfile writes: bytes pile up only until the next `take`, so the zip is never
    whole in memory (zipfile sees no `seek`/`tell` and writes data descriptors instead)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        self._pending += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._pending)
        self._pending.clear()
        return data


@dataclass(slots=True)
class PocArchive:
    """The proof-of-concept zip, made as it is read: the files to put in it, and those left
    out with the reason for each."""

    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def chunks(self) -> Iterator[bytes]:
        """The zip in pieces of about `POC_READ_CHUNK` bytes (files are read as they go).

        Each file is checked again on the open descriptor, so a file swapped for a link or
        grown past the limit since the listing is left out (and named in `SKIPPED.txt`).
        """
        sink = _ChunkSink()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, POC_COMPRESS_LEVEL) as zipped:
            for name in list(self.files):
                for _ in self._add(zipped, name):
                    if chunk := sink.take():
                        yield chunk
            if self.skipped:
                note = "".join(f"{name}: {why}\n" for name, why in self.skipped.items())
                zipped.writestr(SKIPPED_NOTE, note)
        if chunk := sink.take():
            yield chunk

    def _add(self, zipped: zipfile.ZipFile, name: str) -> Iterator[None]:
        """Copy one file into the zip, pausing after each block read."""
        try:
            handle = open(self.folder / name, "rb", opener=_open_no_follow)  # noqa: SIM115
        except OSError as exc:
            self._skip(name, f"cannot be read ({exc.strerror or exc}), left out")
            return
        with handle:
            info = os.fstat(handle.fileno())
            reason = _refusal_of(info)
            if reason:
                self._skip(name, reason)
                return
            entry = zipfile.ZipInfo(name, _zip_time(info.st_mtime))
            entry.compress_type = zipfile.ZIP_DEFLATED
            # What the file held when opened: one still growing is cut there, under the limit.
            remaining = info.st_size
            with zipped.open(entry, "w") as target:
                while remaining > 0 and (block := handle.read(min(POC_READ_CHUNK, remaining))):
                    remaining -= len(block)
                    target.write(block)
                    yield

    def _skip(self, name: str, reason: str) -> None:
        self.files.remove(name)
        self.skipped[name] = reason


def _open_no_follow(path: str, flags: int) -> int:
    """Never through a link, and never waiting (a file swapped for a FIFO would block)."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    """The file's time as zip stores it; zip cannot say anything before 1980."""
    return max(time.localtime(mtime)[:6], ZIP_EPOCH)


def _refusal_of(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link, left out"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a folder?), left out"
    if info.st_size > WORKSPACE_FILE_MAX_BYTES:
        return f"{info.st_size:,} bytes, over the {WORKSPACE_FILE_MAX_BYTES:,}-byte limit"
    return None


def _regular_file(path: Path) -> bool:
    """A regular file itself, not a link to one (lstat does not follow links)."""
    return stat.S_ISREG(path.lstat().st_mode)


class Workspace:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = (store.path.parent if store.path else data_folder()) / WORKSPACES_FOLDER

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
        """The regular files directly in `poc/`, each at most 10 MB, to be zipped as sent.

        Folders and links are left out; a file over the limit is refused and named in
        `SKIPPED.txt` inside the zip, so the receiver knows something is missing. Nothing is
        read here: `PocArchive.chunks` reads the files while the zip goes out.
        """
        folder = self.folder(session_id) / POC_FOLDER
        if not folder.is_dir() or folder.is_symlink():
            raise WorkspaceNotFound(f"session {session_id} has no {POC_FOLDER}/ folder")
        archive = PocArchive(folder)
        for path in sorted(folder.iterdir()):
            reason = _refusal_of(path.lstat())
            if reason:
                archive.skipped[path.name] = reason
            else:
                archive.files.append(path.name)
        if not archive.files and not archive.skipped:
            raise WorkspaceNotFound(f"session {session_id} has no files in {POC_FOLDER}/")
        return archive
