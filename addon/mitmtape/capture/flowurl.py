"""A recorded URL read as mitmproxy's own parser reads it, for a rebuilt mitmproxy request.

Every flow a mitmproxy expression is tried on is rebuilt, and mitmproxy's `url.parse` was a
third of that rebuild: it splits the URL, checks and encodes the host, parses the port and joins
the path again, for every flow. Its reading of `scheme://netloc` depends on those few
characters only, and traffic goes to few hosts, so that part is asked of mitmproxy once per
origin and kept. The path is the URL's rest as written wherever mitmproxy's splitting and
joining give back the same text (a test holds the two equal over many shapes); every other URL
is read by `url.parse` itself, and a URL it refuses falls back to the record's own parts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from mitmproxy.net.http import url

from mitmtape.model import Request

# Distinct `scheme://netloc` prefixes whose reading is kept: traffic goes to few hosts.
URL_ORIGINS_KEPT = 4096
# Characters after which mitmproxy's split-and-join of a path may not give the text back:
# urllib drops tabs and line breaks anywhere, `;` starts path parameters, `#` a fragment.
RESHAPED_BY_SPLITTING = re.compile(r"[\t\r\n;#]")


def url_parts(request: Request) -> tuple[bytes, str, int, bytes]:
    """Scheme, host (IDNA decoded, as mitmproxy's constructor decodes it), port and path.

    A URL mitmproxy's parser refuses (an IRI such as `https://bücher.test/ä`, which some tools
    write into HAR files, or a host it finds invalid) still rebuilds: the record's host and
    port, and the URL's path as UTF-8, so the flow's URL is the recorded text.
    """
    written = request.url
    split = _origin_and_path(written)
    if split is not None:
        try:
            scheme, host, port = _origin_parts(split[0])
        except ValueError:  # UnicodeError included
            return _refused_url_parts(request)
        return scheme, host, port, split[1].encode("ascii")
    try:
        scheme, raw_host, port, path = url.parse(written)
        return scheme, raw_host.decode("idna"), port, path
    except ValueError:
        return _refused_url_parts(request)


def _origin_and_path(written: str) -> tuple[str, str] | None:
    """`scheme://netloc` and the path after it, for an ASCII URL whose path mitmproxy would
    give back as written: it starts with one `/`, holds no character splitting reshapes, and
    does not end in an empty query. None for any other URL."""
    if not written.isascii() or written[:1] <= " " or written.endswith("?"):
        return None
    after_scheme = written.find("://")
    if after_scheme <= 0:
        return None
    path_at = written.find("/", after_scheme + 3)
    if path_at < 0 or written.startswith("//", path_at):
        return None
    origin = written[:path_at]
    if "?" in origin or RESHAPED_BY_SPLITTING.search(written):
        return None
    return origin, written[path_at:]


@lru_cache(maxsize=URL_ORIGINS_KEPT)
def _origin_parts(origin: str) -> tuple[bytes, str, int]:
    """mitmproxy's reading of `scheme://netloc`: raises ValueError where it refuses the URL."""
    scheme, raw_host, port, _ = url.parse(f"{origin}/")
    return scheme, raw_host.decode("idna"), port


def _refused_url_parts(request: Request) -> tuple[bytes, str, int, bytes]:
    """The record's host and port, and the URL's text after `scheme://netloc` as UTF-8."""
    parts = urlsplit(request.url)  # a Request holds only URLs urllib splits
    written = f"{parts.scheme}://{parts.netloc}"
    if request.url[: len(written)].lower() == written.lower():
        path = request.url[len(written) :]
    else:  # urlsplit dropped tabs or line breaks: its own parts, then
        path = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    if not path.startswith("/"):
        path = f"/{path}"
    return (
        parts.scheme.encode("utf-8", "surrogateescape"),
        request.host,
        request.port,
        path.encode("utf-8", "surrogateescape"),
    )
