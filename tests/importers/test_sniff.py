"""Opening a file: the 256 MB limit, format detection from the first bytes, the suffix rule."""

from __future__ import annotations

import io
import time

import pytest

from mitmtape.importers import (
    IMPORT_FILE_LIMIT,
    FileTooLarge,
    ImportFailed,
    import_file,
)
from mitmtape.importers.formats import detect_format
from mitmtape.importers.sniff import Source


def sparse(tmp_path, name: str, size: int):
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_limit_is_256_mb():
    assert IMPORT_FILE_LIMIT == 256 * 1024 * 1024


def test_file_of_256_mb_and_one_byte_is_refused_before_parsing(store, session_id, tmp_path):
    path = sparse(tmp_path, "big.har", IMPORT_FILE_LIMIT + 1)
    started = time.monotonic()
    with pytest.raises(
        FileTooLarge, match=r"big\.har: the file is 268,435,457 bytes; .*268,435,456"
    ):
        import_file(store, path, session_id)
    assert time.monotonic() - started < 1
    assert store.count_flows(session_id) == 0


def test_file_of_exactly_256_mb_passes_the_size_check(store, session_id, tmp_path):
    path = sparse(tmp_path, "big.json", IMPORT_FILE_LIMIT)
    with pytest.raises(ImportFailed) as caught:  # zero bytes: refused by format, not by size
        import_file(store, path, session_id)
    assert not isinstance(caught.value, FileTooLarge)
    assert "invalid file format" in str(caught.value)


def test_stream_over_the_limit_is_refused_when_the_limit_is_crossed():
    payload = b"[" + b" " * 2000 + b"]"
    with pytest.raises(FileTooLarge, match="upload: more than 1,000 bytes"):
        Source(io.BytesIO(payload), "upload", limit=1000).read()
    assert Source(io.BytesIO(payload), "upload", limit=len(payload)).read() == payload


def test_source_replays_its_head_and_then_the_rest():
    payload = b"[" + b"1," * 100_000 + b"1]"
    source = Source(io.BytesIO(payload), "s")
    chunks = []
    while chunk := source.read(10_000):
        chunks.append(chunk)
    assert b"".join(chunks) == payload


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"log": {"version": "1.2", "entries": []}}', "har"),
        (b'  \n{"log":{"entries":[]}}', "har"),
        (b"\xef\xbb\xbf" + b'{"log": {"entries": []}}', "har"),
        (b'{"log": {"pages": [' + b'{"id": "page"},' * 200 + b'{}], "entries": []}}', "har"),
        (b"[]", "json"),
        (b"\n [ {", "json"),
    ],
)
def test_format_is_told_from_the_first_bytes(head, expected):
    assert detect_format(Source(io.BytesIO(head), "f")).name == expected


@pytest.mark.parametrize(
    "head", [b'{"log": {"version": "1.2"}}', b'{"entries": []}', b"<html>", b"42", b'{"a": 1}']
)
def test_other_content_is_an_invalid_file_format(head):
    with pytest.raises(
        ImportFailed,
        match="invalid file format — expected JSON array, HAR object or mitmproxy flow file",
    ):
        detect_format(Source(io.BytesIO(head), "f"))


@pytest.mark.parametrize("name", ["capture.txt", "capture.har.gz", "capture"])
def test_auto_detect_takes_only_har_and_json_names(store, session_id, text_file, name):
    path = text_file(name, "[]")
    with pytest.raises(ImportFailed, match=r"only \.har, \.json and \.mitm files"):
        import_file(store, path, session_id)
    assert import_file(store, path, session_id, format="json").imported == 0


@pytest.mark.parametrize("name", ["CAPTURE.HAR", "flows.JSON"])
def test_suffix_rule_ignores_case(store, session_id, text_file, name):
    assert import_file(store, text_file(name, '{"log": {"entries": []}}'), session_id).imported == 0


def test_json_suffix_holding_har_is_imported_as_har(store, session_id, har_file, entry, records):
    result = import_file(store, har_file([entry()], name="export.json"), session_id)
    assert result.imported == 1
    assert records(session_id)[0].metadata["import_source"] == "har"
