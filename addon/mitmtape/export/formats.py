"""The one registry of export formats: adding a format is a module and a line here."""

from __future__ import annotations

from mitmtape.export import csvfile, har, jsonfile, postman, report
from mitmtape.export.base import ExportFormat

FORMATS: dict[str, ExportFormat] = {
    module.FORMAT.name: module.FORMAT for module in (har, jsonfile, csvfile, postman, report)
}
