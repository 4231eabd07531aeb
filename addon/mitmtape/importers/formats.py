"""The import formats: the `IMPORTERS` registry and auto-detection by content.

A format joins by adding its module's `Importer` here; detection asks each one whether the
file's first bytes are its own, so no other code names a format.
"""

from __future__ import annotations

from mitmtape.importers.har import HAR
from mitmtape.importers.jsonfile import JSON
from mitmtape.importers.mitmfile import MITM
from mitmtape.importers.pipeline import Importer
from mitmtape.importers.sniff import ImportFailed, Source

# In the order the refusal of an unknown file lists them (spec: "expected JSON array, HAR
# object or mitmproxy flow file").
IMPORTERS: dict[str, Importer] = {importer.name: importer for importer in (JSON, HAR, MITM)}
AUTO = "auto"


def detect_format(source: Source) -> Importer:
    """The format whose `sniff` claims the file's first bytes, as drag and drop decides."""
    head = source.head.lstrip()
    if not head:
        raise ImportFailed(f"{source.name}: the file is empty")
    for importer in IMPORTERS.values():
        if importer.sniff(head):
            return importer
    expected = _listed([importer.described for importer in IMPORTERS.values()], "or")
    raise ImportFailed(f"{source.name}: invalid file format — expected {expected}")


def _listed(words: list[str], last: str) -> str:
    """`a, b or c`, as a sentence lists them."""
    return f"{', '.join(words[:-1])} {last} {words[-1]}" if len(words) > 1 else words[0]


def check_suffix(name: str) -> None:
    """Auto-detect takes only the file names some format claims (`.har`, `.json`), as the
    drag-and-drop import does."""
    suffixes = sorted(suffix for importer in IMPORTERS.values() for suffix in importer.suffixes)
    if not name.lower().endswith(tuple(suffixes)):
        listed = _listed(suffixes, "and")
        names = _listed(sorted(IMPORTERS), "or")
        raise ImportFailed(
            f"{name}: only {listed} files can be imported with format detection; "
            f"name the format ({names}) to import another file"
        )


def importer_for(source: Source, format: str) -> Importer:
    """The importer named by `format`, or the detected one for `auto`."""
    if format == AUTO:
        head = source.head.lstrip()
        for importer in IMPORTERS.values():
            if importer.any_name and importer.sniff(head):
                return importer
        check_suffix(source.name)
        return detect_format(source)
    try:
        return IMPORTERS[format]
    except KeyError:
        known = ", ".join([AUTO, *IMPORTERS])
        raise ImportFailed(
            f"{source.name}: unknown import format {format!r} (use {known})"
        ) from None
