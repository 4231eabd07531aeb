"""The test PostgreSQL server (scripts/lib/postgres.sh starts it): its URL, and a fresh schema
per test, so each test meets an empty database without the cost of creating one; and a private
server for a test that stops and starts its server.

Without a server the tests that need one fail, saying how to start it: they are not skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from mitmtape.model import new_id
from tests.ports import free_port

SERVER_ENV = "MITMTAPE_TEST_PG"
PASSWORD_URL_ENV = "MITMTAPE_TEST_PG_PASSWORD_URL"
HOW_TO_START = "run scripts/test, or: source scripts/lib/postgres.sh; start_postgres"


def server_url(variable: str = SERVER_ENV) -> str:
    """The server's URL from the environment; without one, the test fails saying why."""
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"no PostgreSQL test server ({variable} is not set): {HOW_TO_START}")
    return url


def with_schema(url: str, schema: str) -> str:
    """`url` with libpq's `options` putting `schema` first on the search path."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """A URL whose tables live in a new, empty schema, dropped afterwards."""
    url = server_url()
    schema = f"t_{new_id().lower()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def server_binary(name: str) -> str:
    """initdb or pg_ctl: on PATH, or in Debian's versioned folder."""
    found = shutil.which(name) or next(
        (str(path) for path in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        pytest.fail(f"no {name}: {HOW_TO_START}")
    return found


class PrivateServer:
    """A PostgreSQL server of the test's own, to stop and start again while a proxy records
    (the shared test server must stay up for everyone else)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # initdb refuses root: the server runs as `postgres`
            shutil.chown(folder, "postgres", "postgres")
        self._run(server_binary("initdb"), "--no-sync", "-D", str(self.data), "-U", "postgres",
                  "-A", "trust", "-E", "UTF8", "--locale=C")  # fmt: skip

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-k {self.folder} -h 127.0.0.1 -p {self.port} -c fsync=off"
        self._run(server_binary("pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        self._run(server_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A started PrivateServer, stopped (if still running) and removed afterwards. Its folder
    is under /tmp, not pytest's: the `postgres` user must be able to reach it."""
    folder = Path(tempfile.mkdtemp(prefix="mitmtape-pg-"))
    server = PrivateServer(folder)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
