"""The flows table pages by the API's cursors in a real headless Chromium: Next and Previous
walk a session without offsets, Newest shows the latest flows first, and a live flow lands on
top of the newest page."""

from __future__ import annotations

from datetime import timedelta

from mitmtape.api.events import FLOW_CREATED, flow_created
from mitmtape.api.server import ApiServer
from mitmtape.store import Store
from tests.conftest import BASE_TIME
from tests.web.conftest import FAVICON, workspace_probes

FLOWS = 230  # three pages of 100


def paths(page) -> list[str]:
    return page.eval_on_selector_all("#flows tbody .path", "cells => cells.map(c => c.textContent)")


def fill(store: Store, make_record, name: str) -> str:
    session = store.create_session(name)
    store.add_flows(
        make_record(
            session.id,
            url=f"https://api.example.com/n/{n:03}",
            started_at=BASE_TIME + timedelta(seconds=n),
        )
        for n in range(FLOWS)
    )
    return session.id


def test_next_and_previous_walk_the_session_by_cursor(web, store: Store, make_record) -> None:
    session = fill(store, make_record, "Paged")
    opened = web()
    page = opened.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    opened.goto(f"/?session={session}")
    page.wait_for_selector("#flows tbody tr")
    assert paths(page)[0] == "/n/000" and page.text_content("#page-info") == "1–100 of 230"
    assert page.is_disabled("#prev")

    page.click("#next")
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/100')")
    page.click("#next")
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/200')")
    assert len(paths(page)) == 30 and page.is_disabled("#next")
    assert page.text_content("#page-info") == "201–230 of 230"
    page.click("#prev")
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/100')")
    assert page.text_content("#page-info") == "101–200 of 230"

    flow_pages = [url for url in requested if f"/sessions/{session}/flows" in url]
    assert all("offset=" not in url for url in flow_pages)
    assert sum("cursor=" in url for url in flow_pages) == 3
    assert opened.problems_besides(FAVICON, *workspace_probes(session)) == []


def test_newest_shows_the_latest_first_and_live_flows_land_on_top(
    web, server: ApiServer, store: Store, make_record
) -> None:
    session = fill(store, make_record, "Newest")
    opened = web()
    page = opened.page
    opened.goto(f"/?session={session}")
    page.wait_for_selector("#live", state="visible")
    page.wait_for_selector("#flows tbody tr")
    page.click("#newest")
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/229')")
    assert page.text_content("#page-info") == "1–100 of 230, newest first"
    assert "order=desc" in page.url

    record = make_record(
        session, url="https://api.example.com/live", started_at=BASE_TIME + timedelta(days=1)
    )
    store.add_flows([record])
    server.publish(FLOW_CREATED, flow_created(record))
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/live')")
    assert page.text_content("#flow-count") == "231 flows"

    page.click("#next")  # older: the page after the newest one, nothing skipped
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/129')")
    page.click("#oldest")
    page.wait_for_selector("#flows tbody tr:first-child .path:text-is('/n/000')")
    assert opened.problems_besides(FAVICON, *workspace_probes(session)) == []
