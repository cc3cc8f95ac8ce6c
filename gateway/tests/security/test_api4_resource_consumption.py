"""OWASP API4:2023 Unrestricted Resource Consumption: page sizes capped, bodies over the limit
refused before they are read (with a Content-Length and chunked, at the edge and on the
gateway's own port), requests over the rate limits refused with 429 and Retry-After (the edge's
per-address limit and the gateway's per-caller one), and idle connections do not starve others."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
import requests

from flotilla.testing import free_port
from gateway.nginx import EdgeConfig, NginxProcess

pytestmark = pytest.mark.slow


def _problem(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text[:200]
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_page_sizes_are_capped(stack):
    for path, auth in (("/products", {}), ("/orders", stack.customer.auth), ("/users", stack.admin.auth)):
        _problem(stack.http.get(f"{stack.api}{path}?limit=101", headers=auth, timeout=10), 422)
        _problem(
            stack.http.get(f"{stack.api}{path}?limit=100000000000000000000", headers=auth, timeout=10), 422
        )
        _problem(stack.http.get(f"{stack.api}{path}?limit=0", headers=auth, timeout=10), 422)
        page = stack.http.get(f"{stack.api}{path}?limit=100", headers=auth, timeout=10)
        assert page.status_code == 200 and len(page.json()["items"]) <= 100
        default = stack.http.get(f"{stack.api}{path}", headers=auth, timeout=10)
        assert len(default.json()["items"]) <= 20


def _chunks(total: int):
    for _ in range(total // 8192):
        yield b"x" * 8192


@pytest.mark.parametrize("where", ["edge", "gateway port"])
def test_bodies_over_the_limit_are_refused_chunked_or_not(stack, where):
    base = stack.api if where == "edge" else f"{stack.servers['gateway'].base_url}/api/v1"
    size = 200 * 1024 if where == "edge" else 2 * 1024 * 1024  # edge: 64k here; gateway: 1 MiB
    headers = {**stack.customer.auth, "Content-Type": "application/json", "Idempotency-Key": "k" * 16}
    _problem(stack.http.post(f"{base}/orders", data=b"x" * size, headers=headers, timeout=30), 413)
    if where == "edge":
        _problem(stack.http.post(f"{base}/orders", data=_chunks(size), headers=headers, timeout=30), 413)
        return
    # gunicorn answers 413 and closes while a client is still sending: read what it said
    port = stack.servers["gateway"].port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(
            f"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            for chunk in _chunks(size):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


def test_the_edges_per_address_rate_limit(stack):
    """A second nginx with 2 requests/s and a burst of 2 in front of the same gateway."""
    edge = NginxProcess(
        EdgeConfig(
            prefix=Path(tempfile.mkdtemp(prefix="flotilla-edge-rate-")),
            http_port=free_port(),
            https_port=free_port(),
            rate=2,
            burst=2,
            gateway=f"127.0.0.1:{stack.servers['gateway'].port}",
        )
    ).start()
    try:
        answers = [requests.get(f"{edge.base_url}/api/v1/products?limit=1", timeout=10) for _ in range(10)]
    finally:
        edge.stop()
    limited = [r for r in answers if r.status_code == 429]
    assert answers[0].status_code == 200 and len(limited) >= 5
    assert all(
        r.headers.get("Retry-After") and r.headers["Content-Type"].startswith("application/problem+json")
        for r in limited
    )


def test_the_gateways_per_caller_rate_limit(minter, upstreams):
    from flotilla.discovery.static import StaticDiscovery
    from gateway import create_app
    from gateway.config import GatewaySettings

    app = create_app(
        GatewaySettings(log_format="console", rate_limit="5/minute"),
        StaticDiscovery({name: [up.url] for name, up in upstreams.items()}),
        key_source=minter.key_source(),
    )
    gw = app.test_client()
    alice, bob = minter.bearer(), minter.bearer()
    statuses = [gw.get("/api/v1/products", headers=alice).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = gw.get("/api/v1/products", headers=alice)
    assert refused.headers["Retry-After"] and refused.headers["X-RateLimit-Remaining"] == "0"
    assert gw.get("/api/v1/products", headers=bob).status_code == 200  # per caller


def test_idle_connections_to_the_edge_do_not_starve_others(stack):
    idle = [
        socket.create_connection(("127.0.0.1", stack.edge.config.http_port), timeout=5) for _ in range(300)
    ]
    try:
        for sock in idle[:100]:
            sock.sendall(b"GET /api/v1/products HTTP/1.1\r\nHost: x\r\n")  # a head never finished
        answers = [stack.http.get(f"{stack.api}/products?limit=1", timeout=5) for _ in range(10)]
    finally:
        for sock in idle:
            sock.close()
    assert [r.status_code for r in answers] == [200] * 10
