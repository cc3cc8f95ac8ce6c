"""OWASP API10:2023 Unsafe Consumption of APIs: the gateway treats its upstreams' answers as
untrusted. Bytes that are not HTTP, a body cut short, a body that trickles past the route's
timeout, JSON that is not JSON where the gateway reads it (the composed order read), and a huge
body: each ends in a clean 502/503/504 problem+json (never a 500 or a traceback), and the
gateway serves the next request normally. An answer over GATEWAY_MAX_UPSTREAM_BODY_BYTES (16 MiB)
is dropped unread past the limit (502), so a huge upstream body cannot exhaust the gateway's memory."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator

import pytest

from flotilla.discovery.static import StaticDiscovery
from flotilla.testing import free_port

pytestmark = pytest.mark.slow

Script = Callable[[socket.socket], None]


def _http(status: str, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}\r\n").encode() + body


SCRIPTS: dict[str, Script] = {
    "/products/not-http": lambda s: s.sendall(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n"),
    "/products/bad-status-line": lambda s: s.sendall(b"HTTP/1.1 abc\r\n\r\n"),
    "/products/bad-header": lambda s: s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}"),
    "/products/cut-short": lambda s: s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                               b"Content-Length: 1000\r\n\r\n{\"items\": ["),
    "/products/closed": lambda s: None,
    "/products/trickle": lambda s: [(s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                                               if i == 0 else b"x"), time.sleep(0.2)) for i in range(20)],
    "/orders/malformed": lambda s: s.sendall(_http("200 OK", b'{"id": "x", "lines": [{"product_id": ')),
    "/orders/not-an-object": lambda s: s.sendall(_http("200 OK", b'[1, 2, 3]')),
    "/orders/wrong-types": lambda s: s.sendall(_http("200 OK", b'{"id": 1, "lines": "many"}')),
    "/orders/huge-lines": lambda s: s.sendall(_http("200 OK", b'{"id": "x", "lines": [' +
                                                   b",".join([b'{"product_id": "p"}'] * 20000) + b"]}")),
}


class ScriptedUpstream:
    """Answers each request with the bytes its path's script writes, then closes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode().split("?")[0]
            key = next((k for k in SCRIPTS if path.startswith(k) or path.endswith(k.rsplit("/", 1)[1])), None)
            if key is None:
                conn.sendall(_http("200 OK", b'{"items": [], "next_cursor": null}'))
                return
            try:
                SCRIPTS[key](conn)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedUpstream]:
    up = ScriptedUpstream()
    yield up
    up.close()


@pytest.fixture
def gw(scripted, minter):
    from gateway import create_app
    from gateway.config import GatewaySettings

    timeouts = {"products": 1.0, "orders": 1.0, "auth": 1.0, "users": 1.0}
    settings = GatewaySettings(log_format="console", route_timeouts=timeouts, breaker_failures=1000)
    found = {name: [scripted.url] for name in ("users", "catalog", "orders")}
    app = create_app(settings, StaticDiscovery(found), key_source=minter.key_source())
    return app.test_client()


@pytest.mark.parametrize("path", ["/products/not-http", "/products/bad-status-line", "/products/cut-short",
                                  "/products/closed", "/products/trickle"])
def test_a_broken_upstream_answer_is_a_clean_problem(gw, path):
    response = gw.get(f"/api/v1{path}")
    assert response.status_code in (502, 503, 504), response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers.get("Retry-After") or response.status_code != 503
    assert "Traceback" not in response.get_data(as_text=True)
    assert gw.get("/api/v1/products").status_code == 200  # and the next request is served


def _orders_script(name: str) -> Script:
    return SCRIPTS[f"/orders/{name}"]


@pytest.mark.parametrize("name", ["malformed", "not-an-object", "wrong-types", "huge-lines"])
def test_the_composed_read_survives_an_order_that_is_not_what_it_expects(gw, minter, name, monkeypatch):
    """The gateway parses orders' answer for ?expand=products: bad JSON or shapes are a 502."""
    monkeypatch.setitem(SCRIPTS, "/orders/", _orders_script(name))
    response = gw.get(f"/api/v1/orders/{uuid.uuid4()}?expand=products", headers=minter.bearer())
    body = response.get_data(as_text=True)
    assert response.status_code != 500 and "Traceback" not in body, body[:300]
    if response.status_code != 200:
        assert response.status_code == 502
        assert response.headers["Content-Type"].startswith("application/problem+json")


def test_a_bad_content_length_is_not_passed_on(gw):
    response = gw.get("/api/v1/products/bad-header")
    assert response.status_code in (200, 502, 503)
    assert response.headers.get("Content-Length") in (None, str(len(response.get_data())))


def _scripted_body(size: int, declared: bool) -> Callable[[socket.socket], object]:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if declared:
        return lambda s: (s.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode()),
                          [s.sendall(b"x" * 65536) for _ in range(size // 65536)])
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    return lambda s: (s.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()),
                      [s.sendall(chunk) for _ in range(size // 65536)], s.sendall(b"0\r\n\r\n"))


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_upstream_body_is_refused_in_bounded_memory(gw, declared):
    """A 64 MiB answer (over the gateway's 16 MiB GATEWAY_MAX_UPSTREAM_BODY_BYTES), declared or
    chunked, ends in a 502 problem; the gateway stops reading, so it never holds the body."""
    size = 64 * 1024 * 1024
    SCRIPTS["/products/huge"] = _scripted_body(size, declared)
    try:
        tracemalloc.start()
        response = gw.get("/api/v1/products/huge")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        SCRIPTS.pop("/products/huge")
    print(f"\nhuge upstream body: {response.status_code}, peak allocation {peak / 2**20:.1f} MiB")
    assert response.status_code == 502
    assert response.content_type == "application/problem+json"
    assert "too large" in response.get_json()["detail"]
    assert peak < 24 * 1024 * 1024  # the 16 MiB read at most, not the 64 MiB sent


def test_a_large_upstream_body_under_the_limit_is_relayed_whole(gw):
    size = 4 * 1024 * 1024
    SCRIPTS["/products/large"] = _scripted_body(size, declared=False)
    try:
        response = gw.get("/api/v1/products/large")
    finally:
        SCRIPTS.pop("/products/large")
    assert response.status_code == 200
    assert response.get_data() == b"x" * size
