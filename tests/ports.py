"""A free loopback port, for the tests and for the scripts that start their own servers
(scripts/benchmarks/capture_bench.py, scripts/make_sample_captures.py)."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]
