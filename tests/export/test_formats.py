"""Behaviour every writer shares: redaction everywhere, lossless without it, streaming output."""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import pairwise

import pytest

from mitmtape.export import csvfile, har, jsonfile, postman, report
from mitmtape.export.base import ExportFormat
from mitmtape.model import FlowRecord

# The report reads its (at most 10,000) flows before writing: the summary comes first.
STREAMING_WRITERS = [har.FORMAT, jsonfile.FORMAT, csvfile.FORMAT, postman.FORMAT]
WRITERS = [*STREAMING_WRITERS, report.FORMAT]
# CSV has no header columns, so it never carries a credential in the first place.
WRITERS_WITH_HEADERS = [har.FORMAT, jsonfile.FORMAT, postman.FORMAT, report.FORMAT]


def ids(fmt: ExportFormat) -> str:
    return fmt.name


@pytest.mark.parametrize("fmt", WRITERS, ids=ids)
def test_redacted_export_holds_no_secret_anywhere(
    fmt: ExportFormat, secret_record, secret_values, run_export
) -> None:
    data = run_export(fmt, [secret_record], redact=True).encode("utf-8")
    leaked = [secret for secret in secret_values if secret.encode() in data]
    assert leaked == []


@pytest.mark.parametrize("fmt", WRITERS_WITH_HEADERS, ids=ids)
def test_export_without_redaction_keeps_every_secret(
    fmt: ExportFormat, secret_record, secret_values, run_export
) -> None:
    data = run_export(fmt, [secret_record]).encode("utf-8")
    if fmt is postman.FORMAT:  # a collection holds requests only, so no Set-Cookie
        sent = " ".join(value for _, value in secret_record.request.headers)
        secret_values = [secret for secret in secret_values if secret in sent]
    missing = [secret for secret in secret_values if secret.encode() not in data]
    assert missing == []


@pytest.mark.parametrize("fmt", STREAMING_WRITERS, ids=ids)
def test_writer_writes_each_flow_before_reading_the_next(
    fmt: ExportFormat, varied_records, export_context
) -> None:
    out = io.StringIO(newline="")
    written_when_asked: list[int] = []

    def lazily() -> Iterator[FlowRecord]:
        for record in varied_records:
            written_when_asked.append(len(out.getvalue()))
            yield record

    fmt.write(out, lazily(), export_context())
    assert all(before < after for before, after in pairwise(written_when_asked))
    assert len(out.getvalue()) > written_when_asked[-1]


@pytest.mark.parametrize("fmt", WRITERS, ids=ids)
def test_writer_handles_no_records(fmt: ExportFormat, run_export) -> None:
    assert run_export(fmt, [])
