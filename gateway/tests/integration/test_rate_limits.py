"""Rate limits: exactly the allowed requests through, the rest 429, in memory and in Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flotilla.testing.redis import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> dict[str, str]:
    if request.param == "memory":
        return {}
    return {"redis_url": request.getfixturevalue("redis_server").url}


def test_a_burst_gets_exactly_the_allowed_requests_through(make_gateway, storage):
    gw = make_gateway(rate_limit="10/minute", **storage)
    responses = [gw.get("/api/v1/products") for _ in range(25)]
    statuses = [r.status_code for r in responses]
    print(f"\nburst of 25 at 10/minute ({storage or 'memory'}): {statuses.count(200)} x 200, "
          f"{statuses.count(429)} x 429")
    assert statuses == [200] * 10 + [429] * 15
    last = responses[-1]
    assert last.mimetype == "application/problem+json"
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert last.headers["X-RateLimit-Limit"] == "10"
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert responses[0].headers["X-RateLimit-Remaining"] == "9"
    assert "Retry-After" not in responses[0].headers


def test_login_and_register_have_a_stricter_limit(make_gateway, storage):
    gw = make_gateway(rate_limit="100/minute", auth_rate_limit="3/minute", **storage)
    logins = [gw.post("/api/v1/auth/login", json={}).status_code for _ in range(5)]
    assert logins == [200] * 3 + [429] * 2
    assert gw.get("/api/v1/products").status_code == 200


def test_each_user_has_a_quota_of_their_own(make_gateway, minter):
    gw = make_gateway(rate_limit="3/minute")
    alice, bob = minter.bearer(), minter.bearer()
    assert [gw.get("/api/v1/users/me", headers=alice).status_code for _ in range(4)] == [200] * 3 + [429]
    assert gw.get("/api/v1/users/me", headers=bob).status_code == 200
    assert gw.get("/api/v1/products").status_code == 200  # anonymous: by address


def test_replicas_share_counters_through_redis(make_gateway, redis_server):
    first = make_gateway(rate_limit="4/minute", redis_url=redis_server.url)
    second = make_gateway(rate_limit="4/minute", redis_url=redis_server.url)
    statuses = [(first if n % 2 else second).get("/api/v1/orders").status_code for n in range(6)]
    assert statuses.count(429) == 2


def test_health_docs_and_metrics_are_not_rate_limited(make_gateway):
    gw = make_gateway(rate_limit="1/minute")
    assert all(gw.get("/docs").status_code == 200 for _ in range(3))
    assert all(gw.get("/health/live").status_code == 200 for _ in range(3))


def test_concurrent_requests_in_one_process_are_counted_exactly(make_gateway, storage):
    from concurrent.futures import ThreadPoolExecutor

    gw = make_gateway(rate_limit="30/minute", **storage)
    app = gw.application

    def burst(_: int) -> list[int]:
        client = app.test_client()
        return [client.get("/api/v1/products").status_code for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(burst, range(8)) for s in batch]
    print(f"\n8 threads x 10 requests at 30/minute ({storage or 'memory'}): "
          f"{statuses.count(200)} x 200, {statuses.count(429)} x 429")
    assert statuses.count(200) == 30 and statuses.count(429) == 50


def test_an_upstreams_throttling_headers_pass_through_unchanged(upstreams, make_gateway):
    """users locks an account for 900 s: the client must hear 900 s, not the gateway's window."""

    @upstreams["users"].app.post("/auth/locked")
    def locked():
        from flask import Response

        return Response('{"title": "Too Many Requests", "status": 429}', 429,
                        mimetype="application/problem+json",
                        headers={"Retry-After": "900", "X-RateLimit-Limit": "5"})

    gw = make_gateway(rate_limit="100/minute", auth_rate_limit="100/minute")
    response = gw.post("/api/v1/auth/locked", json={})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert response.headers["X-RateLimit-Limit"] == "5"
