"""Databases of an older schema version, built from the migrations as they were then."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mitmtape.store.schema import MIGRATIONS


def build_schema(execute: Callable[[str], Any], ddl: Callable[[str], str], version: int) -> None:
    """The tables of schema `version` in an empty database, as mitmtape of that version left
    them (`ddl` is the engine's spelling of the schema's type names)."""
    execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    execute(f"INSERT INTO schema_version (version) VALUES ({version})")
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            execute(ddl(statement))
