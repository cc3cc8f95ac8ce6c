"""OWASP API7:2023 Server Side Request Forgery at the gateway: whatever a client puts in the
request line or the headers (absolute URIs, Host tricks, ``//host``, ``@``, dot segments,
encoded slashes, X-Forwarded-Host) and whatever an upstream answers (redirects), the gateway
only ever connects to its discovered instances. A canary listener stands for "anywhere else":
it must see 0 connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from flask import Response

from flotilla.discovery.static import StaticDiscovery
from flotilla.testing import free_port
from flotilla.testing.upstream import FakeUpstream

pytestmark = pytest.mark.slow


class Canary:
    """A TCP listener that counts connections (and answers nothing)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def payloads(target: str) -> list[tuple[str, dict[str, str]]]:
    """(path, headers) pairs that each try to make the gateway call ``target`` (host:port)."""
    return [
        (f"//{target}/products", {}),
        (f"/api/v1//{target}/products", {}),
        (f"/api/v1/products@{target}", {}),
        (f"/api/v1/@{target}/products", {}),
        (f"/api/v1/..//{target}/", {}),
        (f"/api/v1/products/../../{target}", {}),
        (f"/api/v1/products/..%2F..%2F{target}", {}),
        (f"/api/v1/%2F%2F{target}%2Fproducts", {}),
        (f"/api/v1/products%2F..%2F..%2F{target}", {}),
        (f"/api/v1/http:%2F%2F{target}%2F", {}),
        (f"/api/v1/http://{target}/", {}),
        ("/api/v1/products", {"Host": target}),
        ("/api/v1/products", {"X-Forwarded-Host": target}),
        ("/api/v1/products", {"X-Forwarded-Host": target, "X-Forwarded-Proto": "http",
                              "Forwarded": f"host={target}"}),
        ("/api/v1/products", {"X-Original-URL": f"http://{target}/", "X-Rewrite-URL": f"http://{target}/"}),
        (f"/api/v1/products?next=http://{target}/&url=//{target}", {}),
    ]


def _raw(port: int, request_line: str, host: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{request_line}\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_the_stack_calls_nothing_but_its_instances(stack, canary):
    target = f"127.0.0.1:{canary.port}"
    ports = {"edge": stack.edge.config.http_port, "gateway": stack.servers["gateway"].port}
    statuses = []
    for where, port in ports.items():
        base = f"http://127.0.0.1:{port}"
        for path, headers in payloads(target):
            if "Host" in headers:  # requests would put its own Host first
                answer = _raw(port, f"GET {path} HTTP/1.1", headers["Host"])
                statuses.append((where, path, int(answer.split()[1])))
            else:
                response = stack.http.get(base + path, headers=headers, timeout=10, allow_redirects=False)
                statuses.append((where, path, response.status_code))
        for line in (f"GET http://{target}/api/v1/products HTTP/1.1", f"GET http://{target}/ HTTP/1.1",
                     f"CONNECT {target} HTTP/1.1", f"GET {target} HTTP/1.1"):
            answer = _raw(port, line, target)
            statuses.append((where, line, int(answer.split()[1]) if answer else 0))
    assert [s for s in statuses if s[2] >= 500 and s[2] != 502] == []
    assert canary.connections == 0, statuses


def test_an_upstream_redirect_is_not_followed(minter, canary):
    from gateway import create_app
    from gateway.config import GatewaySettings

    up = FakeUpstream("catalog")
    target = f"http://127.0.0.1:{canary.port}/products"
    up.app.add_url_rule("/products", "redirect", lambda: Response("", 302, {"Location": target}))
    up.app.add_url_rule("/products/<pid>", "moved", lambda pid: Response("", 307, {"Location": target}),
                        methods=["GET", "POST"])
    up.start()
    try:
        app = create_app(GatewaySettings(log_format="console"),
                         StaticDiscovery({"catalog": [up.url], "users": [up.url], "orders": [up.url]}),
                         key_source=minter.key_source())
        gw = app.test_client()
        first = gw.get("/api/v1/products")
        second = gw.post("/api/v1/products/1", json={}, headers=minter.bearer(roles=["admin"]))
    finally:
        up.stop()
    assert first.status_code == 302 and second.status_code == 307  # handed to the client as is
    assert canary.connections == 0
