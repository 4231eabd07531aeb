"""report.md as HTML: the few Markdown forms, and nothing from the file able to run."""

from __future__ import annotations

from mitmtape.api.markdown import markdown_page, markdown_to_html


def test_headings_paragraphs_lists_and_code_become_tags() -> None:
    text = (
        "# Title #\n\nfirst line\nsecond `x<y`\n\n- one\n- **two**\n\n"
        "```python\nif a < b:\n    pass\n```\n### Small"
    )
    assert markdown_to_html(text).splitlines() == [
        "<h1>Title</h1>",
        "<p>first line<br>second <code>x&lt;y</code></p>",
        "<ul><li>one</li><li><strong>two</strong></li></ul>",
        "<pre><code>if a &lt; b:",
        "    pass</code></pre>",
        "<h3>Small</h3>",
    ]


def test_raw_html_links_and_attributes_stay_text() -> None:
    text = (
        '<img src=x onerror="alert(1)">\n\n[x](javascript:alert(1))\n\n'
        "```\n</code></pre><script>\n```"
    )
    rendered = markdown_to_html(text)
    assert "<img" not in rendered and "<script" not in rendered
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in rendered
    assert "<a " not in rendered


def test_an_unclosed_code_block_still_closes() -> None:
    assert markdown_to_html("```\ncode") == "<pre><code>code</code></pre>"


def test_the_page_escapes_its_title() -> None:
    page = markdown_page("hi", "<b>session</b> — report")
    assert "<title>&lt;b&gt;session&lt;/b&gt; — report</title>" in page
    assert page.startswith("<!doctype html>")
