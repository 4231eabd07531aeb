"""The database a benchmark records into: a SQLite file in its folder, or a new database on the
PostgreSQL server `scripts/bench` started (its URL in MITMTAPE_TEST_PG)."""

from __future__ import annotations

import os
from pathlib import Path

from mitmtape.model import new_id

ENGINES = ("sqlite", "postgresql")


def bench_database(engine: str, folder: Path) -> str:
    """A path or URL for a fresh, empty store."""
    if engine == "sqlite":
        return str(folder / "bench.db")
    import psycopg

    server = os.environ.get("MITMTAPE_TEST_PG")
    if not server:
        raise SystemExit("no PostgreSQL server: run this through scripts/bench")
    name = f"bench_{new_id().lower()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"
