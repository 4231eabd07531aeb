"""Where a store lives, as people write it: a SQLite path or a PostgreSQL URL, and the URL as
messages may show it. Apart from the engines, so telling them apart loads no database driver.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
MASK = "***"


def is_url(location: str) -> bool:
    """Whether `location` names this engine (`postgresql://` or `postgres://`)."""
    return location.split("://", 1)[0].lower() in SCHEMES and "://" in location


def masked(url: str) -> str:
    """The URL with its password (in the authority or as a parameter) replaced by `***`; a
    file path as it is."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        if ":" in credentials:
            credentials = credentials.split(":", 1)[0] + ":" + MASK
        netloc = f"{credentials}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(name, MASK if name == "password" else value) for name, value in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
