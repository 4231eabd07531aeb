"""A session's report.md as an HTML page, for `Accept: text/html`.

The report comes from other tools and may hold anything, so every character is HTML-escaped
first and only then are a few Markdown forms turned into tags: headings, paragraphs, lists,
fenced code, inline code and bold. No links, images or raw HTML: nothing in the file can make
the page run a script or load something from elsewhere (the page's CSP says so too).
"""

from __future__ import annotations

import html
import re

PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#e6e6e6;background:#15171c}pre,code{font-family:'JetBrains Mono',monospace}"
    "pre{background:#0d0f13;padding:1rem;overflow:auto}code{background:#0d0f13;padding:0 .2em}"
)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = _CODE_SPAN.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def markdown_to_html(markdown: str) -> str:
    """The body of the page: block by block, each line escaped before any tag is added."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def close_blocks() -> None:
        if paragraph:
            out.append(f"<p>{'<br>'.join(_inline(line) for line in paragraph)}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if code is not None:
            if _FENCE.match(line):
                out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
        elif _FENCE.match(line):
            close_blocks()
            code = []
        elif heading := _HEADING.match(line):
            close_blocks()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := _LIST_ITEM.match(line):
            if paragraph:
                close_blocks()
            items.append(item.group(1))
        elif not line.strip():
            close_blocks()
        else:
            if items:
                close_blocks()
            paragraph.append(line.strip())
    if code is not None:
        out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
    close_blocks()
    return "\n".join(out)


def markdown_page(markdown: str, title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{markdown_to_html(markdown)}\n</body></html>\n"
    )
