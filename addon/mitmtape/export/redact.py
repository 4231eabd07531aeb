"""Redaction of credentials in header values (spec section 3), shared by every export format.

Off by default, because an archive must be lossless. When on, the values of the headers that
carry credentials are masked, but a bearer token keeps its scheme so a reader still sees how the
request authenticated.
"""

from __future__ import annotations

from dataclasses import replace

from mitmtape.model import FlowRecord, Headers

REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
    }
)
MASK = "***"
BEARER_MASK = "Bearer ***"


def is_secret_header(name: str) -> bool:
    return name.strip().lower() in REDACTED_HEADERS


def mask(value: str) -> str:
    """`Bearer ***` for a bearer token, `***` for anything else."""
    scheme = value.split(None, 1)
    return BEARER_MASK if scheme and scheme[0].lower() == "bearer" else MASK


def redact_headers(headers: Headers) -> Headers:
    """The same header lines in the same order, credentials masked."""
    return [(name, mask(value) if is_secret_header(name) else value) for name, value in headers]


def _redact_optional(headers: Headers | None) -> Headers | None:
    return None if headers is None else redact_headers(headers)


def redact_record(record: FlowRecord) -> FlowRecord:
    """A copy of the record with request and response headers (and trailers) redacted.

    The record handed in is left alone: the pipeline may still need it after the writer.
    """
    request = replace(
        record.request,
        headers=redact_headers(record.request.headers),
        trailers=_redact_optional(record.request.trailers),
    )
    response = record.response
    if response is not None:
        response = replace(
            response,
            headers=redact_headers(response.headers),
            trailers=_redact_optional(response.trailers),
        )
    return replace(record, request=request, response=response)
