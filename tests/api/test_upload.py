"""The upload sink: raw and multipart bodies cut at any chunk boundary, and the size limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mitmtape.api.upload import (
    MultipartUpload,
    RawUpload,
    UploadError,
    UploadFile,
    UploadTooLarge,
    multipart_boundary,
)

CONTENT = b'{"log": {"entries": []}}\r\n--not-the-boundary\r\n' + bytes(range(256))
BODY = (
    b"preamble to ignore\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="note"\r\n\r\n'
    b"a note\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="C:\\\\fakepath\\\\caf\xc3\xa9.har"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n" + CONTENT + b"\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="second.har"\r\n\r\n'
    b"ignored\r\n"
    b"--XyZ--\r\n"
    b"epilogue"
)


@pytest.fixture
def target() -> Iterator[UploadFile]:
    upload = UploadFile(limit=10_000)
    yield upload
    upload.discard()


def feed(upload: RawUpload | MultipartUpload, body: bytes, size: int) -> None:
    for start in range(0, len(body), size):
        upload.feed(body[start : start + size])
    upload.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, len(BODY)])
def test_the_file_field_is_kept_whatever_the_chunk_size(target: UploadFile, size: int) -> None:
    upload = MultipartUpload(target, b"XyZ")
    feed(upload, BODY, size)
    assert target.path.read_bytes() == CONTENT
    assert upload.file_name == "café.har"


def test_a_raw_body_is_the_file(target: UploadFile) -> None:
    feed(RawUpload(target), CONTENT, 10)
    assert target.path.read_bytes() == CONTENT
    assert target.size == len(CONTENT)


def test_writing_past_the_limit_is_refused_at_the_first_byte_too_many() -> None:
    upload = UploadFile(limit=4)
    try:
        upload.write(b"1234")
        with pytest.raises(UploadTooLarge, match="4 bytes"):
            upload.write(b"5")
    finally:
        upload.discard()
    assert not upload.path.exists()


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ('multipart/form-data; boundary="a b"', b"a b"),
        ("Multipart/Form-Data; boundary=xyz; charset=utf-8", b"xyz"),
        ("application/json", None),
        ("", None),
        ("application/octet-stream", None),
    ],
)
def test_the_boundary_is_read_from_the_content_type(
    content_type: str, boundary: bytes | None
) -> None:
    assert multipart_boundary(content_type) == boundary


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary="])
def test_a_multipart_type_without_boundary_is_an_error(content_type: str) -> None:
    with pytest.raises(UploadError, match="boundary"):
        multipart_boundary(content_type)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"--b\r\nContent-Disposition: form-data; name=file\r\n\r\nabc", "closing boundary"),
        (b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc\r\n--b--", "no field 'file'"),
        (b"--bXX", "bad boundary line"),
        (b"--b\r\n" + b"X" * 20_000, "headers too long"),
    ],
)
def test_a_malformed_multipart_body_is_an_error(
    target: UploadFile, body: bytes, words: str
) -> None:
    with pytest.raises(UploadError, match=words):
        feed(MultipartUpload(target, b"b"), body, 1000)
