"""The page's compare view in a real headless Chromium: "inside responses" ticked shows the
deep compare as a coloured diff, one line per change, under its endpoint."""

from __future__ import annotations

from mitmtape.store import Store
from tests.web.conftest import FAVICON

JSON = ("content-type", "application/json")


def test_deep_compare_is_a_coloured_diff(web, store: Store, make_record) -> None:
    before, after = store.create_session("before"), store.create_session("after")
    url = "http://127.0.0.1:8080/users/7"
    store.add_flows([
        make_record(session_id=before.id, url=url, response_body=b'{"id": 7, "mail": "a@b.co"}',
                    response_headers=[JSON, ("x-trace", "1")]),
        make_record(session_id=after.id, url=url, response_body=b'{"id": "7", "mail": "a@b.c"}',
                    response_headers=[JSON, ("x-new", "1")]),
    ])  # fmt: skip
    opened = web()
    page = opened.page
    opened.goto("/?view=compare")
    page.select_option("#compare-form select[name=a]", before.id)
    page.select_option("#compare-form select[name=b]", after.id)
    page.check("#compare-form input[name=deep]")
    page.click("#compare-form button")
    page.wait_for_selector("#compare-responses .diff")

    assert "deep=true" in page.url
    assert page.text_content("#compare-responses h2") == "Inside the responses: 3"
    lines = page.eval_on_selector_all(
        "#compare-responses .diff > div",
        "nodes => nodes.map((n) => [n.className, n.textContent, getComputedStyle(n).color])",
    )
    colours = {name: colour for name, _, colour in lines}
    assert [(name, text) for name, text, _ in lines] == [
        ("diff-endpoint", "GET 127.0.0.1/users/{id}"),
        ("diff-changed", "~ field id: integer → string"),
        ("diff-removed", "- header x-trace"),
        ("diff-added", "+ header x-new"),
    ]
    assert len({colours["diff-added"], colours["diff-removed"], colours["diff-changed"]}) == 3
    assert page.is_checked("#compare-form input[name=deep]")
    assert opened.problems_besides(FAVICON) == []
