from __future__ import annotations

import io
import os
import zipfile

import pytest

from mitmtape.store import Store, data_folder
from mitmtape.workspace import (
    POC_READ_CHUNK,
    WORKSPACE_FILE_MAX_BYTES,
    PocArchive,
    Workspace,
    WorkspaceNotFound,
    WorkspaceTooLarge,
)


@pytest.fixture
def workspace(store: Store) -> Workspace:
    return Workspace(store)


def zip_of(archive: PocArchive) -> bytes:
    return b"".join(archive.chunks())


def test_folder_lives_beside_the_database(store: Store, workspace: Workspace) -> None:
    session = store.active_session().id
    beside = store.path.parent if store.path else data_folder()  # a server: the data folder
    assert workspace.folder(session) == beside / "workspaces" / session
    assert workspace.folder(session).is_dir()


def test_report_is_read_up_to_10mb(store: Store, workspace: Workspace) -> None:
    session = store.active_session().id
    with pytest.raises(WorkspaceNotFound, match=r"no report\.md"):
        workspace.report(session)
    report = workspace.folder(session) / "report.md"
    report.write_bytes(b"# Findings\n" + b"x" * (WORKSPACE_FILE_MAX_BYTES - 11))
    assert len(workspace.report(session)) == WORKSPACE_FILE_MAX_BYTES
    with report.open("ab") as handle:
        handle.write(b"!")
    with pytest.raises(WorkspaceTooLarge, match="limit is 10,485,760"):
        workspace.report(session)


def test_poc_zip_holds_regular_files_only(store: Store, workspace: Workspace, tmp_path) -> None:
    session = store.active_session().id
    poc = workspace.folder(session) / "poc"
    poc.mkdir()
    (poc / "exploit.py").write_text("print('hi')\n")
    (poc / "notes.txt").write_text("steps")
    (poc / "nested").mkdir()
    (poc / "nested" / "inner.txt").write_text("deep")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    os.symlink(secret, poc / "link.txt")
    with open(poc / "huge.bin", "wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    archive = workspace.poc_archive(session)
    data = zip_of(archive)
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        names = sorted(zipped.namelist())
        note = zipped.read("SKIPPED.txt").decode()
        assert zipped.read("exploit.py") == b"print('hi')\n"
    assert names == ["SKIPPED.txt", "exploit.py", "notes.txt"]
    assert set(archive.skipped) == {"huge.bin", "link.txt", "nested"}
    assert "huge.bin: 11,534,336 bytes, over the 10,485,760-byte limit" in note
    assert b"do not ship" not in data


def test_missing_poc_folder_is_not_found(store: Store, workspace: Workspace) -> None:
    with pytest.raises(WorkspaceNotFound, match="no poc/ folder"):
        workspace.poc_archive(store.active_session().id)


def test_poc_file_of_exactly_10mb_is_kept_and_one_byte_more_is_not(
    store: Store, workspace: Workspace
) -> None:
    session = store.active_session().id
    poc = workspace.folder(session) / "poc"
    poc.mkdir()
    for name, size in (
        ("at-limit.bin", WORKSPACE_FILE_MAX_BYTES),
        ("over.bin", WORKSPACE_FILE_MAX_BYTES + 1),
    ):
        with open(poc / name, "wb") as handle:
            handle.truncate(size)
    archive = workspace.poc_archive(session)
    assert archive.files == ["at-limit.bin"]
    assert list(archive.skipped) == ["over.bin"]
    with zipfile.ZipFile(io.BytesIO(zip_of(archive))) as zipped:
        assert zipped.getinfo("at-limit.bin").file_size == WORKSPACE_FILE_MAX_BYTES


def test_poc_zip_is_made_in_pieces_of_about_one_read_block(
    store: Store, workspace: Workspace
) -> None:
    session = store.active_session().id
    poc = workspace.folder(session) / "poc"
    poc.mkdir()
    contents = {f"capture-{n}.bin": os.urandom(3 * POC_READ_CHUNK) for n in range(3)}
    for name, content in contents.items():
        (poc / name).write_bytes(content)
    pieces = list(workspace.poc_archive(session).chunks())
    assert len(pieces) >= 9
    # Random bytes do not compress: a piece is one block read and what zip adds around it.
    assert max(len(piece) for piece in pieces) < POC_READ_CHUNK + 64 * 1024
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zipped:
        assert zipped.testzip() is None
        assert {name: zipped.read(name) for name in zipped.namelist()} == contents


def test_poc_file_swapped_for_a_link_after_the_listing_is_left_out(
    store: Store, workspace: Workspace, tmp_path
) -> None:
    session = store.active_session().id
    poc = workspace.folder(session) / "poc"
    poc.mkdir()
    (poc / "kept.txt").write_text("kept")
    (poc / "swapped.txt").write_text("fine at first")
    archive = workspace.poc_archive(session)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    (poc / "swapped.txt").unlink()
    os.symlink(secret, poc / "swapped.txt")
    data = zip_of(archive)
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert sorted(zipped.namelist()) == ["SKIPPED.txt", "kept.txt"]
        assert zipped.read("SKIPPED.txt").startswith(b"swapped.txt: cannot be read")
    assert archive.files == ["kept.txt"]
    assert b"do not ship" not in data
