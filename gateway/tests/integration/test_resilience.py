"""Timeouts, retries within a budget, breakers and load balancing, with figures."""

from __future__ import annotations

import time

from flask import Response, jsonify

from flotilla.testing import free_port
from flotilla.testing.upstream import FakeUpstream


def scripted(name: str, status: int = 200, delay: float = 0.0) -> FakeUpstream:
    up = FakeUpstream(name)

    @up.app.route("/products", methods=["GET", "POST"])
    def products() -> Response:
        time.sleep(delay)
        if status != 200:
            return Response('{"title": "broken"}', status, mimetype="application/problem+json")
        return jsonify(served_by=name)

    return up.start()


def test_an_upstream_slower_than_its_timeout_gives_504_within_the_timeout(make_gateway):
    slow = scripted("slow", delay=3.0)
    try:
        gw = make_gateway(urls={"catalog": [slow.url]}, route_timeouts={"products": 0.5})
        started = time.monotonic()
        response = gw.get("/api/v1/products")
        elapsed = time.monotonic() - started
    finally:
        slow.stop()
    print(f"\n504 after {elapsed * 1000:.0f} ms for a 500 ms route timeout (upstream takes 3000 ms)")
    assert response.status_code == 504 and response.mimetype == "application/problem+json"
    assert 0.45 <= elapsed < 0.7  # the deadline, plus scheduling slack on a busy 2-core machine


def test_a_failing_upstream_sees_at_most_1_2_requests_per_call_and_no_retried_post(make_gateway):
    failing = scripted("failing", status=503)
    try:
        gw = make_gateway(urls={"catalog": [failing.url]}, breaker_failures=10**6)
        calls = 200
        statuses = {gw.get("/api/v1/products").status_code for _ in range(calls)}
        gets = failing.count("GET", "/products")
        for _ in range(50):
            gw.post("/api/v1/products", json={})
        posts = failing.count("POST", "/products")
    finally:
        failing.stop()
    print(f"\nGET: {gets} upstream requests for {calls} client requests = {gets / calls:.2f} per request;"
          f" POST: {posts} upstream requests for 50")
    assert statuses == {503}
    assert gets <= 1.2 * calls
    assert posts == 50


def test_with_the_breaker_on_a_failing_upstream_is_left_alone(make_gateway):
    failing = scripted("failing", status=503)
    try:
        gw = make_gateway(urls={"catalog": [failing.url]})  # defaults: 5 failures open it for 5 s
        statuses = [gw.get("/api/v1/products").status_code for _ in range(200)]
        seen = failing.count("GET", "/products")
    finally:
        failing.stop()
    print(f"\nbreaker on: {seen} upstream requests for 200 client requests ({seen / 200:.3f} per request)")
    assert set(statuses) == {503} and seen <= 6


def test_the_breaker_opens_answers_fast_503s_and_closes_again(make_gateway):
    up = scripted("flaky", status=500)
    gw = make_gateway(urls={"catalog": [up.url]}, breaker_failures=5, breaker_reset_seconds=1.0)
    try:
        for _ in range(5):
            assert gw.get("/api/v1/products").status_code == 500
        seen = up.count("GET", "/products")
        timings = []
        for _ in range(20):
            started = time.monotonic()
            response = gw.get("/api/v1/products")
            timings.append(time.monotonic() - started)
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert up.count("GET", "/products") == seen  # refused without calling
        timings.sort()
        print(f"\nopen breaker: 20 fast 503s, median {timings[10] * 1000:.1f} ms, "
              f"slowest {timings[-1] * 1000:.1f} ms")
        assert timings[10] < 0.02 and timings[-1] < 0.1
    finally:
        up.stop()
    healed = scripted("healed")
    healed_port_gw = make_gateway(urls={"catalog": [healed.url]}, breaker_failures=1,
                                  breaker_reset_seconds=0.3)
    try:
        dead = healed.port
        healed.stop()
        assert healed_port_gw.get("/api/v1/products").status_code == 503  # opens (threshold 1)
        assert healed_port_gw.get("/api/v1/products").headers["Retry-After"] == "1"
        healed = FakeUpstream("healed")
        healed.port, healed.url = dead, f"http://127.0.0.1:{dead}"
        healed.app.add_url_rule("/products", "p", lambda: jsonify(served_by="healed"))
        healed.start()
        time.sleep(0.35)  # the breaker's reset timeout is the thing under test
        assert healed_port_gw.get("/api/v1/products").status_code == 200  # the half-open probe
        assert healed_port_gw.get("/api/v1/products").status_code == 200  # closed again
    finally:
        healed.stop()


def test_load_is_balanced_across_instances_and_a_dead_one_is_skipped(make_gateway):
    a, b = scripted("a"), scripted("b")
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        gw = make_gateway(urls={"catalog": [a.url, b.url, dead]})
        served = [gw.get("/api/v1/products") for _ in range(60)]
    finally:
        a.stop()
        b.stop()
    assert [r.status_code for r in served].count(200) == 60
    counts = {name: sum(r.json["served_by"] == name for r in served) for name in ("a", "b")}
    print(f"\n60 requests over 2 live instances + 1 dead: {counts}")
    assert 25 <= counts["a"] <= 35 and counts["a"] + counts["b"] == 60
