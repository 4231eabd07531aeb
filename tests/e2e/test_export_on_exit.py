"""mitmdump users get exports from options alone."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.mitmdump import MitmDump


@pytest.mark.e2e
def test_mitmdump_exports_on_exit(tmp_path: Path, upstream: int) -> None:
    target = tmp_path / "exit.har"
    proxy = MitmDump(tmp_path, "--set", f"tape_export_on_exit=har:{target}").start()
    try:
        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"http://127.0.0.1:{upstream}/on-exit")
        assert proxy.stop() == 0
    finally:
        proxy.kill()
    entries = json.loads(target.read_text())["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == [f"http://127.0.0.1:{upstream}/on-exit"]
