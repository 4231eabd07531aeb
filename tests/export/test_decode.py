"""Content decoding and the text-or-base64 choice every readable format relies on."""

from __future__ import annotations

import base64

import pytest
from mitmproxy.net import encoding

from mitmtape.export.decode import content_decode, decode_body
from mitmtape.model import Body

TEXT = ("Grüße " * 100).encode()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_each_content_coding_is_undone(coding: str) -> None:
    wire = encoding.encode(TEXT, coding)
    assert wire != TEXT
    assert content_decode(wire, coding.upper()) == TEXT


def test_stacked_codings_are_undone_last_first() -> None:
    wire = encoding.encode(encoding.encode(TEXT, "gzip"), "br")
    assert content_decode(wire, "gzip, br") == TEXT


@pytest.mark.parametrize("coding", [None, "", "identity"])
def test_no_coding_leaves_bytes_alone(coding: str | None) -> None:
    assert content_decode(TEXT, coding) == TEXT


@pytest.mark.parametrize("coding", ["gzip", "compress", "utf-8", "gzip, rot13"])
def test_undecodable_or_unknown_codings_fall_back_to_the_wire_bytes(coding: str) -> None:
    assert content_decode(b"not compressed at all", coding) == b"not compressed at all"


def test_text_types_come_out_as_text() -> None:
    wire = encoding.encode(TEXT, "gzip")
    body = decode_body(
        Body(wire), [("Content-Type", "text/plain; charset=utf-8"), ("Content-Encoding", "gzip")]
    )
    assert (body.data, body.text, body.is_base64) == (TEXT, TEXT.decode(), False)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", b"\x89PNG\r\n"),
        ("application/json", b"\xff\xfe not utf-8"),
        (None, b"plain but untyped"),
        ("application/octet-stream", b"bytes"),
    ],
)
def test_binary_or_non_utf8_bodies_come_out_as_base64(content_type, data: bytes) -> None:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    body = decode_body(Body(data), headers)
    assert body.is_base64
    assert base64.b64decode(body.text) == data


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.api+json",
        "image/svg+xml",
        "application/graphql",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "text/csv",
    ],
)
def test_spec_text_types_are_text(content_type: str) -> None:
    assert not decode_body(Body(b"a=1"), [("Content-Type", content_type)]).is_base64
