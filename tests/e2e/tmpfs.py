"""A real small tmpfs to fill up and then grow, for tests of a full disk (needs root)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextmanager
def small_tmpfs(folder: Path, size: str = "3m") -> Iterator[Path]:
    """`folder` as a tmpfs of `size`; skips the test where this machine may not mount."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def grow(folder: Path, size: str = "64m") -> None:
    """Give a mounted tmpfs more room: space comes back as on a disk someone cleaned up."""
    _mount("-o", f"remount,size={size}", str(folder))


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem with one file; returns it (delete it to free)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while out.write(b"\0" * 65_536):
                pass
        except OSError:  # no space left: what was written stays
            pass
    return filler
