"""Copy as code: one flow record in, a snippet that sends the same request out.

Each target is a module with a `generate(record) -> str`; the registry is the one place that
knows them all, so doors (commands, CLI, API) list and call targets without branching.
"""

from __future__ import annotations

from collections.abc import Callable

from mitmtape.codegen import curl, fetch, httpie, markdown, python
from mitmtape.model import FlowRecord

TARGETS: dict[str, Callable[[FlowRecord], str]] = {
    "curl": curl.generate,
    "fetch": fetch.generate,
    "python": python.generate,
    "httpie": httpie.generate,
    "markdown": markdown.generate,
}


def generate(target: str, record: FlowRecord) -> str:
    """The snippet for `target`; a ValueError names an unknown target and the valid ones."""
    try:
        make = TARGETS[target]
    except KeyError:
        choices = ", ".join(TARGETS)
        raise ValueError(
            f"unknown copy-as-code target {target!r}; choose one of: {choices}"
        ) from None
    return make(record)
