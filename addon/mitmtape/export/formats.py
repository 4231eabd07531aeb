"""The one registry of export formats: adding a format is a module and a line here.

`ALIASES` are other names a door accepts for a format (the seed's API calls the HTML report
`report`); every list of format names a door shows comes from here.
"""

from __future__ import annotations

from mitmtape.export import csvfile, har, jsonfile, mitmfile, openapi, postman, report
from mitmtape.export.base import ExportFormat

FORMATS: dict[str, ExportFormat] = {
    module.FORMAT.name: module.FORMAT
    for module in (har, jsonfile, csvfile, postman, report, mitmfile, openapi)
}

ALIASES: dict[str, str] = {"report": "html"}
FORMAT_NAMES: tuple[str, ...] = (*FORMATS, *ALIASES)


def format_named(name: str) -> ExportFormat | None:
    """The format a name or alias stands for (any case), or None."""
    name = name.lower()
    return FORMATS.get(ALIASES.get(name, name))
