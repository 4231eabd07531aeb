"""The page's ES modules in a real headless Chromium: sizes written as the Python side writes
them, a body recorded without its content said to be so in the flow's detail, and the modules
that draw the sessions list and the live rows working together."""

from __future__ import annotations

import random

from mitmtape.api.events import FLOW_CREATED, flow_created
from mitmtape.api.server import ApiServer
from mitmtape.model import OMISSIONS, Body
from mitmtape.store import Store
from mitmtape.text import human_size
from mitmtape.web.routes import asset_path
from tests.web.conftest import FAVICON, workspace_probes

# Exact ties (1,250 bytes is 1.25 KB) are where JavaScript's toFixed and Python's format part.
TIES = [1_250, 1_350, 2_500_000, 12_250_000_000]
EDGES = [0, 1, 999, 1_000, 1_049, 1_050, 999_949, 999_950, 999_999, 10**9, 10**13, 2**53]
RANDOM_SIZES = 2_000
SIZES_SEED = 14
HUMAN_SIZES = """async ([module, sizes]) => {
    const { humanSize } = await import(module);
    return sizes.map(humanSize);
}"""
STREAMED_SIZE = 200_000_000
TOO_LARGE_SIZE = 5_000_000


def test_the_page_writes_sizes_as_the_python_side_does(web) -> None:
    draw = random.Random(SIZES_SEED)
    sizes = [*TIES, *EDGES]
    sizes += [draw.randrange(10 ** draw.randint(1, 13)) for _ in range(RANDOM_SIZES)]
    opened = web()

    shown = opened.page.evaluate(HUMAN_SIZES, [asset_path("format.js"), sizes])

    assert shown == [human_size(size) for size in sizes]
    assert shown[0] == "1.2 KB"
    assert opened.problems_besides(FAVICON) == []


def omitted_body(reason: str, size: int) -> Body:
    """A body as the spec's body object writes it when mitmtape kept none of its content."""
    return Body.from_json({"encoding": "utf-8", "data": "", "size": size, "omitted": reason})


def test_a_body_recorded_without_its_content_says_why_and_how_big(
    web, store: Store, make_record
) -> None:
    session = store.create_session("Streams")
    record = make_record(session.id, method="POST", url="https://files.example/upload")
    record.request.body = omitted_body("too-large", TOO_LARGE_SIZE)
    assert record.response is not None
    record.response.body = omitted_body("streamed", STREAMED_SIZE)
    store.add_flows([record])
    opened = web()
    page = opened.page

    opened.goto(f"/?session={session.id}")
    page.click("#flows tbody tr")
    page.wait_for_selector("#flow-detail[open] .omitted")
    shown = page.eval_on_selector_all(
        "#detail-body .omitted", "nodes => nodes.map(n => n.textContent)"
    )

    assert shown == [
        f"Body {OMISSIONS['too-large']}, {human_size(TOO_LARGE_SIZE)}",
        f"Body {OMISSIONS['streamed']}, {human_size(STREAMED_SIZE)}",
    ]
    assert "empty" not in page.text_content("#detail-body")
    assert opened.problems_besides(FAVICON, *workspace_probes(session.id)) == []


def test_a_published_flow_appears_in_the_open_session_without_a_reload(
    web, server: ApiServer, store: Store, make_record
) -> None:
    session = store.create_session("Live")
    store.add_flows([make_record(session.id)])
    opened = web()
    page = opened.page
    opened.goto(f"/?session={session.id}")
    page.wait_for_selector("#live", state="visible")
    page.wait_for_selector("#flows tbody tr")
    record = make_record(session.id, url="https://api.example.com/v1/live")
    store.add_flows([record])

    server.publish(FLOW_CREATED, flow_created(record))
    page.wait_for_selector("#flows tbody tr:nth-child(2)")

    assert page.text_content("#flows tbody tr:nth-child(2) .path") == "/v1/live"
    assert page.text_content("#flow-count") == "2 flows"
    assert page.text_content("#page-info") == "1–2 of 2"
    assert opened.problems_besides(FAVICON, *workspace_probes(session.id)) == []


def test_renaming_a_session_asks_for_the_name_and_lists_it(web, store: Store) -> None:
    session = store.create_session("Before")
    opened = web()
    page = opened.page

    page.click(f"#sessions tr[data-id='{session.id}'] button:text('Rename')")
    page.fill("#ask-input", "After")
    page.click("#ask-ok")
    page.wait_for_selector(".toast:has-text('Renamed to “After”')")
    # The toast comes first; the list is read again after it.
    page.wait_for_selector(f"#sessions tr[data-id='{session.id}'] td a:text-is('After')")

    assert store.get_session(session.id).name == "After"
    assert opened.problems_besides(FAVICON) == []
