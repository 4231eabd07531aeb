"""A recorded URL read for a rebuilt mitmproxy request: the short way (the origin's reading
kept, the path as written) gives exactly what mitmproxy's own parser gives, over every shape of
URL, and a URL it refuses still falls back to the record's parts."""

from __future__ import annotations

import random

import pytest
from mitmproxy.net.http import url

from mitmtape.capture import flowurl
from mitmtape.capture.flowurl import URL_ORIGINS_KEPT, url_parts
from mitmtape.model import Request

SCHEMES = ["http", "https", "HTTPS", "ws", "ftp", "a:b", "1http", " http"]
NETLOCS = [
    "h.example",
    "H.Example:8080",
    "h.test:0",
    "h.test:",
    "h.test:65535",
    "h.test:65536",
    "h.test:99999999999999999999",
    "u:p@h.test",
    "[::1]:9",
    "h_x.test",
    "exa mple.test",
    "bücher.test",
    "xn--bcher-kva.test",
    "h.test?x",
    "",
    "h\x00.test",
]
# Each piece of a path and how often it is drawn: mostly what real paths hold, so that many
# URLs take the short way, and every character that could trip it now and then.
PATH_PIECES = {"a": 12, "/": 6, "?": 3, "=": 2, "&": 2, "%2F": 1, " ": 1, "..": 1, ":": 1}
PATH_PIECES |= dict.fromkeys(["//", ";", "#", "\t", "\n", "é", "\x00", "\x7f"], 1)
SHAPES_SEED = 17
SHAPES = 20_000


def from_mitmproxy(request: Request) -> tuple[bytes, str, int, bytes]:
    """What the rebuild used to do for every URL: mitmproxy's parser, else the record's parts."""
    try:
        scheme, host, port, path = url.parse(request.url)
        return scheme, host.decode("idna"), port, path
    except ValueError:
        return flowurl._refused_url_parts(request)


def request_of(written: str) -> Request:
    return Request(method="GET", url=written, host="recorded.test", port=8443)


def random_urls(count: int) -> list[str]:
    draw = random.Random(SHAPES_SEED)
    urls = []
    for _ in range(count):
        pieces = draw.choices(list(PATH_PIECES), list(PATH_PIECES.values()), k=draw.randrange(8))
        path = "".join(pieces)
        urls.append(f"{draw.choice(SCHEMES)}://{draw.choice(NETLOCS)}{path}")
    return urls


@pytest.mark.parametrize(
    "written",
    [
        "https://svc.example.com/v1/items/12?page=2",
        "http://h.test/",
        "http://h.test",
        "http://h.test?q=1",
        "http://h.test/a?",
        "http://h.test/a??b",
        "http://h.test//a",
        "http://h.test/a;b?c",
        "http://h.test/a#frag",
        "http://h.test/a b",
        "http://h.test/a\tb",
        "http://h.test:99999/a",
        "https://bücher.test/ä?q=ü",
        "https://api.test/ñandú",
        "http://exa mple.test:81/x",
        "\x01http://h.test/a",
    ],
)
def test_each_edge_reads_as_mitmproxy_reads_it(written: str) -> None:
    request = request_of(written)
    assert url_parts(request) == from_mitmproxy(request)


def test_every_shape_reads_as_mitmproxy_reads_it() -> None:
    urls = random_urls(SHAPES)
    short_way = sum(flowurl._origin_and_path(written) is not None for written in urls)
    assert SHAPES // 10 < short_way < SHAPES  # both ways are exercised
    for written in urls:
        request = request_of(written)
        assert url_parts(request) == from_mitmproxy(request), written


def test_an_origin_is_read_by_mitmproxy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    flowurl._origin_parts.cache_clear()
    asked: list[str] = []
    parse = url.parse
    monkeypatch.setattr(url, "parse", lambda written: asked.append(written) or parse(written))

    first = url_parts(request_of("https://once.test:8443/v1/a?x=1"))
    second = url_parts(request_of("https://once.test:8443/v1/b"))

    assert first == (b"https", "once.test", 8443, b"/v1/a?x=1")
    assert second == (b"https", "once.test", 8443, b"/v1/b")
    assert asked == ["https://once.test:8443/"]


def test_the_origins_kept_are_bounded() -> None:
    flowurl._origin_parts.cache_clear()
    for index in range(URL_ORIGINS_KEPT + 1):
        url_parts(request_of(f"http://host{index}.test/"))
    info = flowurl._origin_parts.cache_info()
    assert info.maxsize == URL_ORIGINS_KEPT
    assert info.currsize == URL_ORIGINS_KEPT
