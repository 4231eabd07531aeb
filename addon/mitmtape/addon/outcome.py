"""How a command's outcome reaches the person, the way mitmproxy's own commands do it.

A command that does something tells its outcome in the log at `ALERT`, which the console's
status bar shows (as `save.file` does). A command that answers shows its text in the console's
data viewer; mitmweb and mitmdump have none, so there the answer goes to the log too.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx
from mitmproxy.log import ALERT

logger = logging.getLogger(__name__)


def tell(message: str) -> None:
    """The outcome of a command that did something (safe from any thread)."""
    logger.log(ALERT, message)


def show_answer(text: str) -> None:
    """An answer in the console's data viewer, else in the log; call it on the event loop."""
    master = ctx.master
    if not hasattr(master, "overlay"):
        tell(text)
        return
    # Imported here: the console's widgets need urwid, which mitmdump and mitmweb may lack.
    from mitmproxy.tools.console import overlay

    master.overlay(overlay.DataViewerOverlay(master, text), valign="top")
