"""Opening an import file: the size limit, a look at its first bytes, the format it holds.

Everything here works on the head of the file (a few KB), so a wrong or oversized file is
refused before a single entry is parsed.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from mitmtape.importers.guard import JsonGuard

IMPORT_FILE_LIMIT = 256 * 1024 * 1024
# Auto-detect reads the first 1 KB (spec); a HAR whose `pages` push `"entries":` further is
# still found by looking on up to HAR_ENTRIES_PROBE, so real browser files are not refused.
AUTO_DETECT_HEAD = 1024
HAR_ENTRIES_PROBE = 64 * 1024
# The JSON import looks for a HAR `"log"` key in the first 4 KB (spec).
HAR_LOG_PROBE = 4096
UTF8_BOM = b"\xef\xbb\xbf"
# Byte-order marks of the encodings transcoded to UTF-8 on the way in (UTF-32 first: its
# little-endian mark starts like UTF-16's).
BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
BOM_PROBE = 4
TEXT_BYTES = frozenset(b"\t\n\r" + bytes(range(0x20, 0x7F)))
# JSON starts with an ASCII character, so zero bytes among the first four beside text bytes
# tell an unmarked UTF-16 or UTF-32 file (RFC 4627, section 3): True where the byte is zero.
UNMARKED_ENCODINGS = {
    (True, True, True, False): "UTF-32 (big-endian)",
    (False, True, True, True): "UTF-32 (little-endian)",
    (True, False): "UTF-16 (big-endian)",
    (False, True): "UTF-16 (little-endian)",
}
# A file this small is kept in memory as it is read, so a parse that found nothing can look
# again at the whole file (is a HAR with no entries empty, or no HAR at all?).
RESCAN_LIMIT = 1024 * 1024

_HAR_LOG_NOT_NULL = re.compile(rb'"log"\s*:\s*(?!null)\S')


class ImportFailed(Exception):
    """The whole file was refused or the import stopped; the message names file and problem.

    `kept` is how many flows an import into an existing session had already written.
    """

    def __init__(self, message: str, kept: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.kept = kept

    def __str__(self) -> str:
        if not self.kept:
            return self.message
        return f"{self.message}; {self.kept:,} flows written before the failure were kept"


class FileTooLarge(ImportFailed):
    pass


class EntryError(ValueError):
    """One entry cannot become a record; the import skips it and reports the message."""


class Source:
    """An import file as a byte stream: its head is read first and replayed to the parser.

    Works for paths and for streams that cannot seek (an upload), counts what is read and
    stops at IMPORT_FILE_LIMIT + 1 byte, so an oversized stream is refused without reading on.
    UTF-16 and UTF-32 files with a byte-order mark are transcoded to UTF-8 as they are read.
    What the parser reads passes through `guard` (see guard.py).
    """

    def __init__(self, stream: BinaryIO, name: str, limit: int = IMPORT_FILE_LIMIT) -> None:
        self.name = name
        self.limit = limit
        self.guard = JsonGuard()
        self._stream = stream
        self._read = 0
        self._reader: Callable[[int], bytes] = self._take
        first = self._take(BOM_PROBE)
        encoding = self._encoding(first)
        if encoding:
            self._reader, first = _Transcoder(self._take, encoding, first).read, b""
        head = first + self._reader(HAR_ENTRIES_PROBE)
        if head.startswith(UTF8_BOM):
            head = head[len(UTF8_BOM) :]
        self.head = head
        self._pending = io.BytesIO(head)
        self._copy: bytearray | None = bytearray()

    @classmethod
    def open(cls, path: str | os.PathLike[str], limit: int = IMPORT_FILE_LIMIT) -> Source:
        """Open a file, refusing it by its size alone when it is over the limit."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImportFailed(f"{path.name}: cannot read the file: {exc.strerror}") from None
        if size > limit:
            raise FileTooLarge(
                f"{path.name}: the file is {size:,} bytes; the import limit is {limit:,} bytes"
            )
        handle = path.open("rb")
        try:
            return cls(handle, path.name, limit)
        except BaseException:
            handle.close()
            raise

    def _encoding(self, first: bytes) -> str | None:
        """The codec for a file with a UTF-16/32 byte-order mark; an unmarked one is refused."""
        for bom, encoding in BOMS:
            if first.startswith(bom):
                return encoding
        if any(byte not in TEXT_BYTES for byte in first if byte):
            return None
        zeros = tuple(byte == 0 for byte in first)
        named = UNMARKED_ENCODINGS.get(zeros) or UNMARKED_ENCODINGS.get(zeros[:2])
        if named:
            raise ImportFailed(
                f"{self.name}: the file looks like {named} text without a byte-order mark; "
                "save it as UTF-8 to import it"
            )
        return None

    def _take(self, size: int) -> bytes:
        data = self._stream.read(size)
        self._read += len(data)
        if self._read > self.limit:
            raise FileTooLarge(
                f"{self.name}: more than {self.limit:,} bytes; the import limit is "
                f"{self.limit:,} bytes"
            )
        return data

    def read(self, size: int = -1) -> bytes:
        """What the parser calls: the head first, then the rest of the stream, guarded."""
        while True:
            raw = self._next(size)
            data = self.guard.feed(raw, final=not raw or size < 0)
            if data or not raw:
                break
        if self._copy is not None:
            self._copy += data
            if len(self._copy) > RESCAN_LIMIT:
                self._copy = None
        return data

    def _next(self, size: int) -> bytes:
        data = self._pending.read(size)
        if size < 0:
            data += self._reader(-1)
        elif not data:
            data = self._reader(size)
        return data

    def read_bytes(self, size: int) -> bytes:
        """Up to `size` bytes as the file holds them, for a binary format: no JSON guard and
        no copy kept (mitmproxy's flow files are not JSON, and the guard would rewrite them)."""
        data = self._pending.read(size)
        return data if data else self._reader(size)

    def copy(self) -> bytes | None:
        """Everything read so far if the file was small enough to keep, else None."""
        return None if self._copy is None else bytes(self._copy)

    def first_byte(self) -> bytes:
        """The first byte that is not white space, or b"" for an empty (or blank) file."""
        stripped = self.head.lstrip()
        return stripped[:1]

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Transcoder:
    """A UTF-16/UTF-32 stream read as UTF-8, a chunk at a time; bad sequences become U+FFFD."""

    def __init__(self, take: Callable[[int], bytes], encoding: str, first: bytes) -> None:
        self._take = take
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._first = first

    def read(self, size: int) -> bytes:
        while True:
            raw, self._first = self._first + self._take(size), b""
            text = self._decoder.decode(raw, final=not raw or size < 0)
            if text or not raw:
                return text.encode("utf-8")


def looks_like_har(head: bytes) -> bool:
    """The JSON import's test: an object whose first 4 KB hold a non-null `"log"` key."""
    return bool(_HAR_LOG_NOT_NULL.search(head[:HAR_LOG_PROBE]))
