"""A real `mitmdump -s addon/tape.py` (or mitmweb) process on free loopback ports, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.ports import free_port
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
TAPE_SCRIPT = REPO / "addon" / "tape.py"


def venv_tool(name: str) -> str:
    """A console script installed beside the running interpreter (mitmdump, mitmtape...)."""
    return str(Path(sys.executable).parent / name)


class MitmDump:
    def __init__(
        self,
        folder: Path,
        *extra: str,
        script: bool = True,
        db: Path | None = None,
        tool: str = "mitmdump",
    ) -> None:
        self.port = free_port()
        self.db = db or folder / "tape.db"
        self.confdir = folder / "confdir"
        self.log = folder / f"{tool}-{self.port}.log"
        args = [venv_tool(tool), "--listen-host", "127.0.0.1", "-p", str(self.port)]
        args += ["--set", f"confdir={self.confdir}", "--set", "termlog_verbosity=warn"]
        if script:
            args += ["-s", str(TAPE_SCRIPT), "--set", f"tape_db={self.db}"]
        self.args = [*args, *extra]
        self.script = script
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def start(self, timeout: float = 30.0) -> MitmDump:
        """Start, and return once the proxy listens and the addon has opened its database.

        mitmproxy 12 may listen a moment before a script's `configure` has run.
        """
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
            )
        try:
            wait_for_port(self.port, timeout, self.process)
            if self.script:
                wait_until(self.db.exists, timeout, f"opening {self.db}")
        except (RuntimeError, TimeoutError) as exc:
            self.kill()
            raise RuntimeError(f"{exc}:\n{self.log.read_text()}") from None
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """A clean stop (SIGINT, like Ctrl-C), so `done` runs and flushes."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`; a RuntimeError if
    `process` exits first or nothing listens in time."""

    def accepts() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited early with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    try:
        wait_until(accepts, timeout, f"listening on 127.0.0.1:{port}")
    except TimeoutError as exc:
        raise RuntimeError(str(exc)) from None
