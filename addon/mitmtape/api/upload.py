"""An import upload written to a temporary file as it arrives, raw or as multipart field `file`.

Uploads may be 256 MB, so nothing holds the body in memory: chunks go to disk as they come, a
multipart body is cut apart on the fly (only the `file` part is kept), and the size limit is
checked on every chunk, so an oversized upload is refused at its first byte too many, with or
without a Content-Length.
"""

from __future__ import annotations

import os
import tempfile
from email.message import Message
from email.parser import Parser
from pathlib import Path, PureWindowsPath

FILE_FIELD = "file"
MULTIPART = "multipart/form-data"
# A part's headers longer than this are not a browser's or curl's upload.
PART_HEADERS_MAX = 16 * 1024


class UploadError(Exception):
    """The upload is malformed (400)."""


class UploadTooLarge(Exception):
    """The uploaded file is over the limit (413)."""


def multipart_boundary(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data body; None for any other (raw) body."""
    header = Message()
    header["content-type"] = content_type
    if header.get_content_type() != MULTIPART:
        return None
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise UploadError("a multipart/form-data upload needs a boundary parameter")
    return boundary.encode("latin-1", "replace")


class UploadFile:
    """A temporary file that refuses to grow past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        handle, name = tempfile.mkstemp(prefix="mitmtape-upload-")
        self.path = Path(name)
        self._file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLarge(
                f"the upload is larger than the import limit of {self.limit:,} bytes"
            )
        self._file.write(data)

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class RawUpload:
    """The whole body is the file."""

    def __init__(self, target: UploadFile) -> None:
        self.target = target
        self.file_name: str | None = None

    def feed(self, data: bytes) -> None:
        self.target.write(data)

    def finish(self) -> None:
        self.target.close()


class MultipartUpload:
    """Streams the `file` field of a multipart/form-data body into `target`; other fields are
    read past. The body is seen as if it began with CRLF, so every boundary is `CRLF--b`."""

    def __init__(self, target: UploadFile, boundary: bytes) -> None:
        self.target = target
        self.file_name: str | None = None
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"
        self._keep = False
        self._found = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Move through the buffer as far as it allows; False when it needs more data."""
        if self._state in ("preamble", "body"):
            return self._find_delimiter()
        if self._state == "delimiter":
            if len(self._buffer) < 2:
                return False
            ending = bytes(self._buffer[:2])
            del self._buffer[:2]
            if ending == b"--":
                self._state = "done"
            elif ending == b"\r\n":
                self._state = "headers"
            else:
                raise UploadError("malformed multipart body: bad boundary line")
            return True
        if self._state == "headers":
            return self._read_headers()
        self._buffer.clear()  # done: an epilogue is ignored
        return False

    def _find_delimiter(self) -> bool:
        at = self._buffer.find(self._delimiter)
        if at < 0:
            # Keep what could be the start of a delimiter; the rest belongs to the part.
            safe = max(0, len(self._buffer) - len(self._delimiter) + 1)
            self._emit(self._buffer[:safe])
            del self._buffer[:safe]
            return False
        self._emit(self._buffer[:at])
        del self._buffer[: at + len(self._delimiter)]
        self._state = "delimiter"
        return True

    def _emit(self, data: bytearray) -> None:
        if self._state == "body" and self._keep and data:
            self.target.write(bytes(data))

    def _read_headers(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > PART_HEADERS_MAX:
                raise UploadError("malformed multipart body: part headers too long")
            return False
        text = bytes(self._buffer[:end]).decode("utf-8", "replace")
        del self._buffer[: end + 4]
        headers = Parser().parsestr(text + "\r\n\r\n", headersonly=True)
        name = headers.get_param("name", header="content-disposition")
        self._keep = name == FILE_FIELD and not self._found
        if self._keep:
            self._found = True
            file_name = headers.get_filename()
            # Only the last part: browsers may send `C:\fakepath\x.har`.
            self.file_name = PureWindowsPath(file_name).name if file_name else None
        self._state = "body"
        return True

    def finish(self) -> None:
        self.target.close()
        if self._state != "done":
            raise UploadError("malformed multipart body: it ends before its closing boundary")
        if not self._found:
            raise UploadError(f"the multipart upload has no field {FILE_FIELD!r}")
