"""The server itself: loopback only, its own thread, and the token on every route."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mitmtape.api.base import BODY_DISCARD_MAX, REQUEST_BODY_MAX, ApiHandler
from mitmtape.api.openapi import openapi_document
from mitmtape.api.server import API_IDLE_TIMEOUT, ROUTES, ApiServer, loopback_address
from mitmtape.store import Store
from tests.api.conftest import AUTH, TOKEN


def documented_requests() -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document with its path parameters filled in."""
    found = []
    for path, operations in openapi_document()["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        found += [(method.upper(), concrete) for method in operations]
    return found


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::", "10.0.0.1"])
def test_binding_anything_but_loopback_is_refused(store: Store, host: str) -> None:
    with pytest.raises(ValueError, match="loopback addresses only"):
        ApiServer(store, TOKEN, host=host)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1.2.3", "127.1.2.3"),
        ("localhost", "127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_loopback_addresses_are_accepted(host: str, address: str) -> None:
    assert loopback_address(host) == address


def test_an_empty_token_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="token"):
        ApiServer(store, "")


def test_start_binds_a_free_port_before_returning_and_stop_releases_it(store: Store) -> None:
    api = ApiServer(store, TOKEN)
    api.start()
    try:
        assert api.port > 0
        assert api.url == f"http://127.0.0.1:{api.port}"
        assert httpx.get(f"{api.url}/api/v1/sessions", headers=AUTH).status_code == 200
        assert any(thread.name == "mitmtape-api" for thread in threading.enumerate())
    finally:
        api.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api.url}/api/v1/sessions", headers=AUTH)
    with pytest.raises(RuntimeError, match="starts once"):
        api.start()


def test_a_port_in_use_fails_in_start(store: Store, server: ApiServer) -> None:
    with pytest.raises(OSError):
        ApiServer(store, TOKEN, port=server.port).start()


def test_ipv6_loopback_url_has_brackets(store: Store) -> None:
    api = ApiServer(store, TOKEN, host="::1")
    try:
        api.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert api.url == f"http://[::1]:{api.port}"
        assert httpx.get(f"{api.url}/api/v1/sessions", headers=AUTH).status_code == 200
    finally:
        api.stop()


def test_every_route_is_documented() -> None:
    documented = {re.sub(r"\{[^}]+\}", "([^/]+)", path) for path in openapi_document()["paths"]}
    assert {pattern for pattern, _ in ROUTES} == documented


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "longer", "basic", "no-scheme", "empty"],
)
def test_every_route_wants_the_token_and_says_nothing_else(
    server: ApiServer, headers: dict[str, str]
) -> None:
    requests = [*documented_requests(), ("GET", "/nowhere"), ("PUT", "/api/v1/sessions")]
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for method, path in requests:
            response = http.request(method, path, headers=headers, content=b"[]")
            assert response.status_code == 401, (method, path)
            assert response.content == b"", (method, path)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "content-type" not in response.headers
            assert "server" not in response.headers


def test_the_bearer_scheme_is_case_insensitive(server: ApiServer, store: Store) -> None:
    response = httpx.get(
        f"{server.url}/api/v1/sessions", headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert response.status_code == 200
    assert [session["id"] for session in response.json()["sessions"]] == [store.active_session().id]


def test_unknown_paths_are_404_in_json(client: httpx.Client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "no API endpoint at /api/v1/nothing-here"}


def test_a_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.put("/api/v1/sessions")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert "error" in response.json()
    assert client.post("/api/v1/artifacts/x").headers["Allow"] == "GET, DELETE"


def test_each_route_takes_the_query_parameters_it_documents() -> None:
    document = openapi_document()["paths"]
    for pattern, handler in ROUTES:
        path = next(p for p in document if re.sub(r"\{[^}]+\}", "([^/]+)", p) == pattern)
        documented = {
            parameter["name"]
            for operation in document[path].values()
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        }
        assert getattr(handler, "QUERY", frozenset()) == documented, path


def test_an_unknown_query_parameter_is_400(client: httpx.Client) -> None:
    response = client.get("/api/v1/artifacts", params={"status-min": "400"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "unknown query parameter 'status-min'; this endpoint takes: limit, offset, session_id, type"
    )


def test_a_slow_upload_does_not_hold_up_other_requests(server: ApiServer, store: Store) -> None:
    session = store.active_session()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"["
        release.wait(10)
        yield b"]"

    def upload() -> None:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=20) as http:
            results.append(
                http.post(f"/api/v1/sessions/{session.id}/import/json", content=slow_body())
            )

    results: list[httpx.Response] = []
    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        response = httpx.get(f"{server.url}/api/v1/sessions", headers=AUTH, timeout=5)
        assert response.status_code == 200
        assert not results
    finally:
        release.set()
        uploader.join(10)
    assert results[0].json()["imported"] == 0


def test_the_server_runs_beside_a_running_event_loop(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As inside mitmproxy: started and stopped from a coroutine, it answers while that loop is
    blocked, and its handlers run on the server's own loop and thread, never the caller's."""
    handled: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []
    prepare = ApiHandler.prepare

    async def recording_prepare(handler: ApiHandler) -> None:
        handled.append((asyncio.get_running_loop(), threading.current_thread()))
        await prepare(handler)

    monkeypatch.setattr(ApiHandler, "prepare", recording_prepare)

    async def main() -> tuple[asyncio.AbstractEventLoop, httpx.Response]:
        api = ApiServer(store, TOKEN)
        api.start()
        try:
            # Blocking on purpose: had the server used this loop, it could not answer.
            response = httpx.get(f"{api.url}/api/v1/sessions", headers=AUTH, timeout=10)
        finally:
            api.stop()
        return asyncio.get_running_loop(), response

    # The caller's loop runs on a thread of its own, as mitmproxy's does (and as this thread
    # may hold Playwright's loop).
    results: list[tuple[asyncio.AbstractEventLoop, httpx.Response]] = []
    caller = threading.Thread(target=lambda: results.append(asyncio.run(main())))
    caller.start()
    caller.join(30)
    [(caller_loop, response)] = results

    assert response.status_code == 200
    assert [session["id"] for session in response.json()["sessions"]] == [store.active_session().id]
    [(handler_loop, handler_thread)] = handled
    assert handler_loop is not caller_loop
    assert handler_thread.name == "mitmtape-api"
    assert handler_thread is not caller


def test_a_query_parameter_given_twice_is_400(client: httpx.Client) -> None:
    response = client.get("/api/v1/artifacts?limit=1&limit=2")
    assert response.status_code == 400
    assert response.json()["error"] == "limit is given 2 times; give it once"


@pytest.mark.parametrize(("method", "path"), [("POST", "/sessions"), ("GET", "/artifacts")])
def test_a_body_over_the_request_limit_is_a_413_naming_it(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, f"/api/v1{path}", content=b"x" * (REQUEST_BODY_MAX + 1))
    assert response.status_code == 413
    assert response.json()["error"] == (
        "the request body is 1,048,577 bytes; this endpoint takes at most 1,048,576 bytes"
    )
    # The body was read past: the same connection answers the next request.
    assert client.get("/api/v1/sessions").status_code == 200


def chunked(size: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent without Content-Length (httpx sends an iterator chunked)."""
    for start in range(0, size, piece):
        yield b"x" * min(piece, size - start)


@pytest.mark.parametrize("path", ["/sessions", "/compare?a=x&b=y"])
def test_a_chunked_body_over_the_limit_is_a_413_naming_it(client: httpx.Client, path) -> None:
    response = client.post(f"/api/v1{path}", content=chunked(REQUEST_BODY_MAX + 1))
    assert response.status_code == 413
    assert response.json()["error"] == (
        "the request body is over 1,048,576 bytes; this endpoint takes at most 1,048,576 bytes"
    )
    assert client.get("/api/v1/sessions").status_code == 200


def test_a_chunked_body_over_the_limit_without_the_token_is_401(server: ApiServer) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/sessions", content=chunked(REQUEST_BODY_MAX + 1), timeout=10
    )
    assert response.status_code == 401 and response.content == b""


def test_a_chunked_body_at_the_limit_reaches_the_endpoint(client: httpx.Client) -> None:
    document = b'{"name": "chunked"}'
    body = document + b" " * (REQUEST_BODY_MAX - len(document))

    def pieces() -> Iterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    response = client.post("/api/v1/sessions", content=pieces())
    assert response.status_code == 201 and response.json()["name"] == "chunked"


def test_a_body_at_the_request_limit_reaches_the_endpoint(client: httpx.Client) -> None:
    response = client.post("/api/v1/sessions", content=b" " * REQUEST_BODY_MAX)
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["error"]


def test_a_body_over_the_limit_without_the_token_is_still_401(server: ApiServer) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/sessions", content=b"x" * (REQUEST_BODY_MAX + 1), timeout=10
    )
    assert response.status_code == 401


def test_a_body_declared_past_the_discard_limit_is_answered_before_it_is_sent(
    server: ApiServer,
) -> None:
    declared = BODY_DISCARD_MAX + 1
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(
            f"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        answer = read_until_closed(client)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert f"the request body is {declared:,} bytes".encode() in answer


def read_until_closed(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_the_idle_timeout_is_60_seconds_by_default(store: Store) -> None:
    assert API_IDLE_TIMEOUT == 60
    assert ApiServer(store, TOKEN).idle_timeout == API_IDLE_TIMEOUT


@pytest.fixture
def quick_server(store: Store) -> Iterator[ApiServer]:
    """A server that closes idle connections after one second."""
    api = ApiServer(store, TOKEN, idle_timeout=1)
    api.start()
    yield api
    api.stop()


def seconds_until_closed(client: socket.socket, trickle: bytes = b"", limit: float = 10) -> float:
    """Send `trickle` over and over, a byte per tenth of a second, until the server closes."""
    start = time.monotonic()
    client.settimeout(0.1)
    sent = 0
    while time.monotonic() - start < limit:
        try:
            if trickle:
                client.send(trickle[sent % len(trickle) :][:1])
                sent += 1
            if client.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    raise AssertionError(f"the server kept the connection open for {limit} s")


def test_an_idle_connection_is_closed_after_the_timeout(quick_server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", quick_server.port)) as client:
        assert 0.9 <= seconds_until_closed(client) < 5


def test_a_connection_trickling_its_headers_is_closed_after_the_timeout(
    quick_server: ApiServer,
) -> None:
    with socket.create_connection(("127.0.0.1", quick_server.port)) as client:
        client.sendall(b"GET /api/v1/sessions HTTP/1.1\r\n")
        assert 0.9 <= seconds_until_closed(client, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa") < 5


def test_a_connection_trickling_its_body_is_closed_after_the_timeout(
    quick_server: ApiServer,
) -> None:
    with socket.create_connection(("127.0.0.1", quick_server.port)) as client:
        client.sendall(
            f"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:{quick_server.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100000\r\n\r\n".encode()
        )
        assert 0.9 <= seconds_until_closed(client, b"{") < 5


def test_a_connection_idle_after_a_request_is_closed_after_the_timeout(
    quick_server: ApiServer,
) -> None:
    with socket.create_connection(("127.0.0.1", quick_server.port)) as client:
        client.sendall(
            f"GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:{quick_server.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        client.settimeout(10)
        assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert 0.9 <= seconds_until_closed(client) < 5
