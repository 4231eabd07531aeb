"""Fixtures for the importers: a session in the suite's real store, and HAR / JSON files
written to `tmp_path`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mitmtape.model import FlowRecord
from mitmtape.store import Store

SAMPLES = Path(__file__).parents[2] / "sample_captures"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def session_id(store: Store) -> str:
    return store.create_session("target").id


def har_entry(**fields: Any) -> dict[str, Any]:
    """A minimal valid HAR entry; keyword arguments replace top-level fields."""
    entry: dict[str, Any] = {
        "startedDateTime": "2026-03-08T14:30:22.123Z",
        "time": 42.5,
        "request": {
            "method": "GET",
            "url": "https://api.example.com/v1/items?page=2",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Accept", "value": "application/json"}],
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"size": 11, "mimeType": "application/json", "text": '{"ok": true}'},
        },
        "timings": {"send": 1, "wait": 40, "receive": 1.5},
    }
    entry.update(fields)
    return entry


def har_document(entries: list[Any]) -> dict[str, Any]:
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }


WriteFile = Callable[..., Path]


@pytest.fixture
def har_file(tmp_path: Path) -> WriteFile:
    def write(entries: list[Any], name: str = "capture.har") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(har_document(entries)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def json_file(tmp_path: Path) -> WriteFile:
    def write(flows: list[Any], name: str = "flows.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(flows), encoding="utf-8")
        return path

    return write


@pytest.fixture
def text_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def entry() -> Callable[..., dict[str, Any]]:
    return har_entry


@pytest.fixture
def records(store: Store) -> Callable[[str], list[FlowRecord]]:
    """The records of a session with their bodies, oldest first."""

    def read(session_id: str) -> list[FlowRecord]:
        return [record for batch in store.iter_flow_batches(session_id) for record in batch]

    return read
