"""CSV export: 12 columns, spreadsheet-formula guard, RFC 4180 quoting, CRLF rows."""

from __future__ import annotations

import csv
import io

import pytest

from mitmtape.export import csvfile
from mitmtape.model import Body, FlowRecord, Request, Response

HEADER = (
    "id,method,url,host,path,status,duration_ms,request_size,response_size,content_type,tags,error"
)


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_format_is_registered_as_csv_without_bodies() -> None:
    fmt = csvfile.FORMAT
    assert (fmt.name, fmt.suffix, fmt.media_type, fmt.needs_bodies) == (
        "csv",
        ".csv",
        "text/csv",
        False,
    )


def test_header_row_and_exactly_twelve_cells_per_row(varied_records, run_export) -> None:
    text = run_export(csvfile.FORMAT, varied_records)
    assert text.startswith(HEADER + "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(varied_records) + 1
    assert all(len(row) == 12 for row in rows)


def test_rows_end_in_crlf(varied_records, run_export) -> None:
    text = run_export(csvfile.FORMAT, varied_records)
    assert text.endswith("\r\n")
    assert text.count("\r\n") == len(varied_records) + 1
    assert "\n" not in text.replace("\r\n", "")


def test_cells_hold_the_summary_values(record_kinds, run_export) -> None:
    record = record_kinds["get_with_query"]
    row = read(run_export(csvfile.FORMAT, [record]))[0]
    assert row == {
        "id": record.id,
        "method": "GET",
        "url": record.request.url,
        "host": "api.example.com",
        "path": "/v1/items",
        "status": "200",
        "duration_ms": "51.2",
        "request_size": "0",
        "response_size": "11",
        "content_type": "application/json",
        "tags": "api;list",
        "error": "",
    }


def test_a_flow_without_response_has_status_zero_and_its_error(record_kinds, run_export) -> None:
    row = read(run_export(csvfile.FORMAT, [record_kinds["failed_no_response"]]))[0]
    assert (row["status"], row["duration_ms"], row["error"]) == ("0", "", "Connection refused")


def test_sizes_come_from_records_without_body_bytes(run_export) -> None:
    record = FlowRecord(
        request=Request("POST", "https://e.example/", body=Body(wire_size=1024)),
        response=Response(200, body=Body(wire_size=8192)),
        duration_ms=142.25,
    )
    row = read(run_export(csvfile.FORMAT, [record]))[0]
    assert (row["request_size"], row["response_size"], row["duration_ms"]) == (
        "1024",
        "8192",
        "142.2",
    )


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_prefix_is_neutralised(prefix: str, run_export) -> None:
    payload = f'{prefix}HYPERLINK("http://evil.example")'
    record = FlowRecord(
        request=Request("GET", "https://e.example/"),
        tags=[payload],
        error=payload,
    )
    row = read(run_export(csvfile.FORMAT, [record]))[0]
    assert row["tags"] == "'" + payload
    assert row["error"] == "'" + payload


@pytest.mark.parametrize("prefix", csvfile.FORMULA_PREFIXES)
def test_every_tag_is_guarded_for_a_semicolon_separated_spreadsheet(
    prefix: str, run_export
) -> None:
    payload = f'{prefix}HYPERLINK("http://evil.example")'
    record = FlowRecord(
        request=Request("GET", "https://e.example/"),
        tags=["api", payload, f"inner;{payload}", "a-b"],
    )
    row = read(run_export(csvfile.FORMAT, [record]))[0]
    assert row["tags"].split(";") == ["api", "'" + payload, "inner", "'" + payload, "a-b"]


def test_commas_quotes_and_newlines_survive_a_round_trip(run_export) -> None:
    nasty = 'a,b "quoted"\r\nnext line\nand, more'
    record = FlowRecord(
        request=Request("GET", "https://e.example/"), tags=["x,y", 'say "hi"'], error=nasty
    )
    text = run_export(csvfile.FORMAT, [record])
    row = read(text)[0]
    assert row["error"] == nasty
    assert row["tags"] == 'x,y;say "hi"'
    assert '"a,b ""quoted""' in text


def test_non_ascii_text_is_kept(record_kinds, run_export) -> None:
    row = read(run_export(csvfile.FORMAT, [record_kinds["non_ascii"]]))[0]
    assert row["path"] == "/v1/people/ñandú"
    assert row["tags"] == "ünïcode"
