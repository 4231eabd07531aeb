from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.mitmdump import MitmDump
from tests.e2e.servers import http_server


@pytest.fixture
def upstream() -> Iterator[int]:
    with http_server() as port:
        yield port


@pytest.fixture
def mitmdump(tmp_path: Path) -> Iterator[MitmDump]:
    proxy = MitmDump(tmp_path, "--set", "ssl_insecure=true").start()
    yield proxy
    proxy.kill()
