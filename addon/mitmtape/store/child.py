"""Starting a child process of mitmtape's own that opens the same database.

The capture writer and an import's row writer each run `python -m <module>` beside the process
that started them. The database goes by environment, not argument (a URL's password would show
in `ps`), and the folder holding the `mitmtape` package goes on the child's path, so a checkout
used with `mitmdump -s` finds the same code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# The environment variable that hands the child its database (path or URL).
CHILD_DB_ENV = "MITMTAPE_WRITER_DB"


def spawn(module: str, args: list[str], location: str | os.PathLike[str]) -> subprocess.Popen:
    """`module` started as a child on pipes (stdin and stdout), with the database handed over."""
    python_path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": python_path, CHILD_DB_ENV: os.fspath(location)},
        # A process group of its own: a Ctrl-C at the terminal is the parent's to act on (it
        # ends the child's input), and reaches no child still starting up.
        process_group=0,
    )


def child_database() -> str:
    """In the child: the database its parent handed over."""
    return os.environ[CHILD_DB_ENV]
