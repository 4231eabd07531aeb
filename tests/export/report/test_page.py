"""The report's page as text: the cap note, escaping in every place, and nothing loaded."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from mitmtape.export import report
from mitmtape.export.report import page as report_page
from mitmtape.export.report import table
from mitmtape.model import Body, Session

PAYLOAD = '</script><img src=x onerror="window.__pwned=1">\u2028&amp;'


def test_a_session_over_the_cap_gets_a_visible_note(flow, render) -> None:
    page = render([flow()], matched=12_345)
    assert "This session had 12,345 flows; the first 1 are shown." in page


def test_a_session_within_the_cap_gets_no_note(flow, render) -> None:
    assert 'id="cap-note"' not in render([flow(), flow()])


def test_the_format_is_registered_with_the_report_cap() -> None:
    fmt = report.FORMAT
    assert (fmt.name, fmt.suffix, fmt.media_type, fmt.needs_bodies) == (
        "html",
        ".html",
        "text/html",
        False,
    )
    assert fmt.cap == report.REPORT_CAP == 10_000


def test_traffic_text_is_escaped_in_text_attributes_and_script_data(flow, render) -> None:
    page = render(
        [flow(url=f"https://evil.example/{PAYLOAD}", tags=[PAYLOAD], error=PAYLOAD)],
        session=Session(id="s", name=PAYLOAD),
    )
    assert "<img" not in page
    assert page.count("</script>") == 2
    data = re.search(r'<script type="application/json" id="flow-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert not re.search(r"[<>&\u2028\u2029]", data.group(1))
    strings = json.loads(data.group(1))["strings"]
    assert PAYLOAD in strings
    assert f"https://evil.example/{PAYLOAD}" in strings


def test_script_json_escapes_what_could_end_a_script_element() -> None:
    text = str(table.script_json({"a": "</script><!--\u2028\u2029&"}))
    assert text == '{"a":"\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\u0026"}'
    assert json.loads(text) == {"a": "</script><!--\u2028\u2029&"}


def test_undecodable_bytes_do_not_break_the_utf8_file(flow, render) -> None:
    broken = "caf\udce9"
    page = render([flow(request_headers=[("x-name", broken)], tags=[broken])])
    page.encode("utf-8")
    assert "caf\ufffd" in page


def test_the_csp_holds_the_hashes_of_the_pages_own_style_and_script(flow, render) -> None:
    page = render([flow()])
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert found is not None
    csp = html.unescape(found.group(1))
    assert csp.startswith("default-src 'none';")
    for name in ("report.css", "report.js"):
        _, source = report_page._asset(name)
        assert source in csp
    assert "unsafe-inline" not in csp


def test_the_page_itself_points_at_no_address() -> None:
    for asset in Path(report_page.TEMPLATES).iterdir():
        text = asset.read_text("utf-8")
        assert not re.search(r"https?:|url\(|@import|@font-face|\ssrc=|\shref=", text), asset.name


def test_an_empty_export_still_renders(render) -> None:
    page = render([])
    assert "This export holds no flows." in page
    assert 'data-stat="flows">0<' in page


def test_ten_thousand_flows_are_shown_and_no_more(flow, render) -> None:
    records = [flow(offset_ms=n) for n in range(report.REPORT_CAP + 5)]
    page = render(records)
    assert page.count('<tr class="s-') == report.REPORT_CAP
    assert "This session had 10,005 flows; the first 10,000 are shown." in page


def test_every_kind_of_record_gets_a_row(varied_records, render) -> None:
    page = render(varied_records)
    assert page.count('<tr class="s-') == len(varied_records)


def test_a_duration_that_is_not_a_number_counts_as_unknown(flow, render) -> None:
    page = render([flow(duration_ms=float("nan")), flow(duration_ms=float("inf"))])
    assert "nan" not in page.lower()
    assert 'data-stat="median">—<' in page


def test_a_body_not_recorded_is_marked_in_its_size_cell_and_the_data(flow, render) -> None:
    streamed = flow(response_size=200_000_000)
    streamed.response.body = Body(b"", 200_000_000, "streamed")
    page = render([streamed, flow(response_size=10)])
    reason = "response body not recorded: mitmproxy streamed it (stream_large_bodies)"
    assert (
        f'<td title="{html.escape(reason)}">200.0 MB<span class="omitted">not recorded</span>'
        in (page)
    )
    assert page.count('class="omitted"') == 1
    data = re.search(r'<script type="application/json" id="flow-data">(.*?)</script>', page, re.S)
    assert data is not None
    document = json.loads(data.group(1))
    assert [document["strings"][f[18]] if f[18] >= 0 else None for f in document["flows"]] == [
        reason,
        None,
    ]
