"""The flow the capture benchmarks record: what their upstream answers to wrk's requests.

Kept apart from capture_bench.py so the writer feeder (writer_pace.py), which imports mitmtape
from another checkout, can use the same shape without importing this tree's mitmtape.
"""

from __future__ import annotations

PATH = "/api/items"  # what wrk asks for
BODY = b'{"items": [1, 2, 3], "ok": true, "padding": "' + b"x" * 900 + b'"}'
CONTENT_TYPE = b"application/json"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: " + CONTENT_TYPE + b"\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)  # fmt: skip
