"""ServiceClient.forward (the gateway's proxied call) over urllib3's pools: the same headers,
errors, retries and breakers as ``request`` over httpx, against real loopback servers."""

from __future__ import annotations

import httpx
import pytest
from flask import Response

from flotilla.context import reset_request_id, set_request_id
from flotilla.discovery.static import StaticDiscovery
from flotilla.http import CallPolicy, RetryBudget, ServiceClient, UpstreamTimeout, UpstreamUnavailable
from flotilla.http.client import make_http_client
from flotilla.http.lean import LeanResponse
from flotilla.testing import free_port
from flotilla.testing.upstream import FakeUpstream

from .test_client import DroppingServer


def lean_client(*urls: str, **kwargs) -> ServiceClient:
    return ServiceClient("svc", StaticDiscovery({"svc": list(urls)}), http=make_http_client(), **kwargs)


@pytest.fixture
def cookies() -> FakeUpstream:
    server = FakeUpstream("cookies")

    @server.app.get("/two-cookies")
    def two_cookies() -> Response:
        response = Response(b"hello", status=201, mimetype="text/plain")
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        return response

    server.start()
    yield server
    server.stop()


def test_forward_sends_headers_body_and_request_id_and_keeps_every_answer_header(upstream, cookies):
    client = lean_client(upstream.url)
    token = set_request_id("rid-lean")
    try:
        echoed = client.forward("POST", "/echo/x?a=1&b=%2F", content=b'{"k": 1}',
                                headers={"Content-Type": "application/json", "X-Custom": "yes"})
    finally:
        reset_request_id(token)
    assert isinstance(echoed, LeanResponse) and echoed.status_code == 200
    body = echoed.json()
    assert body["query"] == "a=1&b=%2F" and body["body"] == '{"k": 1}'
    assert body["headers"]["X-Request-Id"] == "rid-lean" and body["headers"]["X-Custom"] == "yes"
    assert "application/json" in echoed.headers["content-type"]
    answer = lean_client(cookies.url).forward("GET", "/two-cookies")
    assert answer.status_code == 201 and answer.content == b"hello"
    assert [v for k, v in answer.headers.multi_items() if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert "Content-Length" in answer.headers and answer.headers.get("x-missing") is None


def test_forward_times_out_and_skips_a_refused_instance(upstream):
    with pytest.raises(UpstreamTimeout):
        lean_client(upstream.url, policy=CallPolicy(timeout=0.3)).forward("GET", "/slow?seconds=2")
    dead = f"http://127.0.0.1:{free_port()}"
    client = lean_client(upstream.url, dead, budget=RetryBudget(ratio=0))
    served = [client.forward("GET", "/echo/rr").json()["upstream"] for _ in range(10)]
    assert served == ["one"] * 10  # a refused connection moves on at once, without budget
    assert client.breakers.get(dead).state == "open"
    with pytest.raises(UpstreamUnavailable):
        lean_client(dead).forward("GET", "/x")


def test_forward_retries_5xx_within_the_budget_as_request_does_and_never_a_post(upstream):
    assert lean_client(upstream.url, budget=RetryBudget(ratio=1.0)).request(
        "GET", "/fail", params={"status": "503"}).status_code == 503
    over_httpx = upstream.count("GET", "/fail")
    client = lean_client(upstream.url, budget=RetryBudget(ratio=1.0))
    assert client.forward("GET", "/fail?status=503").status_code == 503
    assert over_httpx > 1 and upstream.count("GET", "/fail") == 2 * over_httpx
    assert client.forward("POST", "/fail?status=503", content=b"{}").status_code == 503
    assert upstream.count("POST", "/fail") == 1


def test_forward_retries_a_dropped_connection_once_for_idempotent_calls_only():
    server = DroppingServer()
    try:
        client = lean_client(server.url, budget=RetryBudget(ratio=0))
        assert client.forward("GET", "/x").json() == {"ok": True}
        assert server.connections == 2
    finally:
        server.stop()
    server = DroppingServer()
    try:
        with pytest.raises(UpstreamUnavailable):
            lean_client(server.url, budget=RetryBudget(ratio=0)).forward("POST", "/x", content=b"{}")
        assert server.connections == 1
    finally:
        server.stop()


def test_a_client_not_made_by_the_kit_forwards_through_httpx(upstream):
    client = ServiceClient("svc", StaticDiscovery({"svc": [upstream.url]}), http=httpx.Client())
    answer = client.forward("GET", "/echo/plain")
    assert isinstance(answer, httpx.Response) and answer.json()["upstream"] == "one"
