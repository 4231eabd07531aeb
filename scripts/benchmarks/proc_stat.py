"""What a process has spent, read from /proc: the benchmarks' CPU figures."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """A process's user and system CPU time so far (fields 14 and 15 of /proc/<pid>/stat)."""
    # Counted after the command name's closing parenthesis: the name may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
