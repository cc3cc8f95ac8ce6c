"""Through real nginx -> gateway (gunicorn) -> catalog (gunicorn): TLS, gzip, limits, failover."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.slow


def test_products_through_nginx_plain_and_tls_with_gzip(edge):
    plain = requests.get(edge.base_url + "/api/v1/products", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert plain.status_code == 200 and len(plain.json()["items"]) >= 10
    assert plain.headers["Content-Encoding"] == "gzip"
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert len(plain.headers["X-Request-ID"]) >= 16
    cert = edge.config.prefix / "tls" / "dev.crt"
    tls = requests.get(edge.tls_url + "/api/v1/products?limit=1", verify=str(cert), timeout=5,
                       headers={"X-Request-ID": "through-tls-1"})
    assert tls.status_code == 200 and len(tls.json()["items"]) == 1
    assert tls.headers["X-Request-ID"] == "through-tls-1"
    assert tls.headers["Strict-Transport-Security"].startswith("max-age")  # the gateway saw https


def test_nginx_refuses_oversized_bodies_with_a_problem(edge):
    response = requests.post(edge.base_url + "/api/v1/products", data=b"x" * (1024 * 1024 + 1),
                             headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 413


def test_edge_rate_limit_answers_429_not_503(gateway_proc, nginx_for):
    tight = nginx_for(gateway_proc.port, rate=2, burst=4)
    with requests.Session() as session:
        statuses = [session.get(tight.base_url + "/api/v1/products?limit=1", timeout=5).status_code
                    for _ in range(20)]
        limited = session.get(tight.base_url + "/api/v1/products?limit=1", timeout=5)
    print(f"\nedge burst of 20 at 2 r/s, burst 4: {statuses.count(200)} x 200, {statuses.count(429)} x 429")
    assert set(statuses) == {200, 429} and 5 <= statuses.count(200) <= 7
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["title"] == "Too Many Requests"


def test_gateway_down_is_a_502_problem(nginx_for):
    from flotilla.testing import free_port

    lonely = nginx_for(free_port())
    response = requests.get(lonely.base_url + "/api/v1/products", timeout=5)
    assert response.status_code == 502 and response.json()["status"] == 502


def test_no_client_visible_errors_when_a_catalog_instance_is_killed(catalog_db, gateway_for, nginx_for,
                                                                    kill):
    from flotilla.testing.processes import GunicornProcess

    env = {"CATALOG_DATABASE_URL": catalog_db, "LOG_LEVEL": "WARNING"}
    pair = [GunicornProcess("catalog:create_app()", env=env, workers=1).start() for _ in range(2)]
    try:
        gateway = gateway_for([s.base_url for s in pair], GATEWAY_BREAKER_RESET_SECONDS="30")
        edge = nginx_for(gateway.port)
        url = edge.base_url + "/api/v1/products?limit=5"
        results: list[tuple[int, int]] = []  # (index, status)
        killed_at = None
        with requests.Session() as session:
            for n in range(300):
                if n == 100:
                    kill(pair[1])
                    killed_at = time.monotonic()
                results.append((n, session.get(url, timeout=10).status_code))
        assert killed_at is not None
        errors_before = [n for n, s in results if s != 200 and n < 100]
        errors_after = [n for n, s in results if s != 200 and n >= 100]
        health = requests.get(f"{gateway.base_url}/health", timeout=5).json()["upstreams"]["catalog"]
        print(f"\n300 GETs through nginx, 2 catalog instances, one SIGKILLed at request 100: "
              f"errors before {len(errors_before)}, after {len(errors_after)} {errors_after[:10]}; "
              f"/health catalog: {[i['state'] for i in health['instances']]}")
        assert errors_before == []
        assert errors_after == []
        assert health["status"] == "up"
        assert sorted(i["state"].split(":")[0] for i in health["instances"]) == ["ready", "unreachable"]
    finally:
        for server in pair:
            server.stop()
