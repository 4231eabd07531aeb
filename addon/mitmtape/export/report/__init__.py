"""The `html` export: one self-contained report page to open, search, sort, share and print.

The table rows are rendered on the server (`table.py`, `page.py`), so the page reads and prints
without JavaScript; the inline script only adds search, sorting and a detail panel, and builds
that panel with `textContent`. Traffic strings reach the page two ways only: Jinja's autoescape
(element text, attributes) and `table.script_json` (the JSON block). On top of that, a
Content-Security-Policy holding the hashes of the page's own style and script refuses every
other script, handler and address, so the page makes no request when opened, and an escaping
slip still could not run anything. The summary numbers are `summary.py`, the pictures
`charts.py`.
"""

from __future__ import annotations

from mitmtape.export.base import ExportFormat
from mitmtape.export.report.page import write

REPORT_CAP = 10_000

FORMAT = ExportFormat(
    name="html",
    suffix=".html",
    media_type="text/html",
    needs_bodies=False,
    write=write,
    cap=REPORT_CAP,
    shared=True,
)
