"""ServiceClient against real loopback servers: timeouts, retries, breakers, headers."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from flotilla.context import reset_request_id, set_request_id
from flotilla.discovery.static import StaticDiscovery
from flotilla.http import (
    BreakerRegistry,
    CallPolicy,
    CircuitOpen,
    RetryBudget,
    ServiceClient,
    UpstreamNotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
    handlers,
)
from flotilla.testing import free_port


def client_for(*urls: str, **kwargs) -> ServiceClient:
    return ServiceClient("svc", StaticDiscovery({"svc": list(urls)}), **kwargs)


def test_passes_request_id_and_the_token_it_is_given(upstream):
    app = Flask("caller")
    client = client_for(upstream.url)
    with app.test_request_context(headers={"Authorization": "Bearer from-the-request"}):
        token = set_request_id("rid-123")
        try:
            body = client.get_json("/echo/x", token="Bearer abc")
            unauthenticated = client.get_json("/echo/x")
        finally:
            reset_request_id(token)
    assert body["headers"]["X-Request-Id"] == "rid-123"
    assert body["headers"]["Authorization"] == "Bearer abc"
    assert "Authorization" not in unauthenticated["headers"]  # never read from the current request


def test_a_slow_upstream_times_out_within_the_timeout(upstream):
    client = client_for(upstream.url, policy=CallPolicy(timeout=0.3))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        client.request("GET", "/slow", params={"seconds": "2"})
    elapsed = time.monotonic() - started
    assert 0.28 <= elapsed < 0.5, f"timed out after {elapsed:.3f}s, timeout 0.3s"


def test_failing_upstream_sees_at_most_1_2_requests_per_call_and_no_retried_post(upstream):
    client = client_for(upstream.url, breakers=BreakerRegistry(failure_threshold=10**6))
    calls = 200
    for _ in range(calls):
        assert client.request("GET", "/fail", params={"status": "503"}).status_code == 503
    gets = upstream.count("GET", "/fail")
    for _ in range(50):
        assert client.request("POST", "/fail", params={"status": "503"}).status_code == 503
    posts = upstream.count("POST", "/fail")
    print(f"GET: {gets} upstream requests for {calls} calls = {gets / calls:.3f} per call; "
          f"POST: {posts} for 50")
    assert calls < gets <= 1.2 * calls
    assert posts == 50


def test_round_robin_and_a_dead_instance_is_skipped_by_a_retry(upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    client = client_for(upstream.url, dead, budget=RetryBudget(ratio=1.0))
    served = [client.get_json("/echo/rr")["upstream"] for _ in range(10)]
    assert served == ["one"] * 10  # every call answered, half of them after a retry
    assert client.breakers.get(dead).state == "open"


def test_breaker_opens_then_answers_fast_then_closes(upstream):
    breakers = BreakerRegistry(failure_threshold=3, reset_timeout=0.5)
    client = client_for(upstream.url, breakers=breakers, budget=RetryBudget(ratio=0))
    for _ in range(3):
        client.request("GET", "/fail")
    before = upstream.count("GET", "/fail")
    started = time.monotonic()
    with pytest.raises(CircuitOpen) as info:
        client.request("GET", "/fail")
    assert time.monotonic() - started < 0.1  # refused without a network call
    assert info.value.retry_after == 1
    assert upstream.count("GET", "/fail") == before
    time.sleep(0.55)  # the breaker's own reset timeout is what is under test
    assert client.get_json("/echo/again")["upstream"] == "one"
    assert breakers.get(upstream.url).state == "closed"


def test_statuses_become_local_exceptions(upstream):
    client = client_for(upstream.url)
    with pytest.raises(UpstreamNotFound):
        client.get_json("/nowhere")
    with pytest.raises(UpstreamUnavailable) as info:
        client.get_json("/fail", params={"status": "500"})
    assert info.value.retry_after >= 1


def test_no_instances_and_unreachable_map_to_503_with_retry_after():
    app = Flask("svc")
    handlers.init_app(app)
    client = ServiceClient("svc", StaticDiscovery({}))

    @app.get("/x")
    def x():
        return client.get_json("/x")

    response = app.test_client().get("/x")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.mimetype == "application/problem+json"


class DroppingServer:
    """Reads the first request and closes without answering (an instance killed mid-call),
    then answers every later connection properly."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            if self.connections > 1:
                body = b'{"ok": true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.close()

    def stop(self) -> None:
        self.sock.close()


def test_a_connection_dropped_before_any_answer_is_retried_once_for_idempotent_calls_only():
    server = DroppingServer()
    try:
        client = client_for(server.url, budget=RetryBudget(ratio=0))  # no budget at all
        assert client.get_json("/x") == {"ok": True}
        assert server.connections == 2
    finally:
        server.stop()
    server = DroppingServer()
    try:
        with pytest.raises(UpstreamUnavailable):
            client_for(server.url, budget=RetryBudget(ratio=0)).request("POST", "/x", json={})
        assert server.connections == 1  # a POST is never sent twice
    finally:
        server.stop()
