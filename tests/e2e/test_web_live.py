"""The web page served by a recording mitmdump shows new flows as they are recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.mitmdump import MitmDump, wait_for_port
from tests.pages import RecordedPage
from tests.ports import free_port
from tests.web.conftest import FAVICON, workspace_probes

pytestmark = pytest.mark.e2e
TOKEN = "live-token"
TIMEOUT_MS = 15_000


def test_a_recorded_flow_appears_without_a_reload(
    browser: Any, tmp_path: Path, upstream: int
) -> None:
    api_port = free_port()
    proxy = MitmDump(
        tmp_path, "--set", "tape_api=true", "--set", f"tape_api_port={api_port}",
        "--set", f"tape_api_token={TOKEN}",
    ).start()  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        wait_for_port(api_port)
        origin = f"http://127.0.0.1:{api_port}"
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        opened = RecordedPage.watch(page, origin)
        page.goto(f"{origin}/?token={TOKEN}")
        assert "token=" not in page.url
        page.wait_for_selector("#sessions tbody tr")
        active = httpx.get(
            f"{origin}/api/v1/sessions", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()["sessions"][0]["id"]
        opened.goto(f"/?session={active}")
        page.wait_for_selector("#live", state="visible")
        page.evaluate("window.notReloaded = true")  # a reload would forget this

        with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
            client.get(f"http://127.0.0.1:{upstream}/seen-live")
        row = page.wait_for_selector("#flows tbody tr:has-text('/seen-live')")

        assert row is not None and page.evaluate("window.notReloaded") is True
        assert opened.problems_besides(FAVICON, *workspace_probes(active)) == []
    finally:
        context.close()
        proxy.kill()
