"""The customer's journey, only through nginx: register, log in, browse, order, see it confirmed,
cancel, see the stock back. Then again with one of the two catalog instances killed midway."""

from __future__ import annotations

import uuid

import pytest
import requests

from flotilla.testing import wait_for

pytestmark = pytest.mark.slow


class Client:
    """Counts every answer that is not what the journey expects (client-visible errors)."""

    def __init__(self, base: str) -> None:
        self.base, self.http, self.errors = base + "/api/v1", requests.Session(), []

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs) -> requests.Response:
        response = self.http.request(method, self.base + path, timeout=10, **kwargs)
        if response.status_code not in expect:
            self.errors.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
        return response


def journey(edge_url: str, midway=lambda: None) -> list[str]:
    c = Client(edge_url)
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery staple"
    c.call("POST", "/auth/register", (201,), json={"email": email, "password": password, "name": "E2E"})
    token = c.call("POST", "/auth/login", json={"email": email, "password": password}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    products = c.call("GET", "/products?limit=20").json()["items"]
    product = max(products, key=lambda p: p["stock"])
    stock = c.call("GET", f"/products/{product['id']}").json()["stock"]
    midway()
    placed = c.call("POST", "/orders", (202,), headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    json={"items": [{"product_id": product["id"], "quantity": 2}]}).json()
    assert "id" in placed, c.errors
    order_path = f"/orders/{placed['id']}"
    wait_for(lambda: c.call("GET", order_path, headers=auth).json()["status"] == "confirmed",
             timeout=20, what="order confirmed")
    assert c.call("GET", f"/products/{product['id']}").json()["stock"] == stock - 2
    expanded = c.call("GET", order_path + "?expand=products", headers=auth).json()
    assert expanded["expanded"] == "complete" and expanded["lines"][0]["product"]["id"] == product["id"]
    c.call("POST", order_path + "/cancel", (200, 202), headers=auth)
    wait_for(lambda: c.call("GET", order_path, headers=auth).json()["status"] == "cancelled",
             timeout=20, what="order cancelled")
    wait_for(lambda: c.call("GET", f"/products/{product['id']}").json()["stock"] == stock,
             timeout=20, what="stock released")
    for _ in range(20):  # browsing goes on after the journey
        c.call("GET", f"/products/{product['id']}")
    return c.errors


def test_the_journey_through_nginx_then_again_with_a_catalog_instance_killed(platform, kill):
    assert journey(platform.edge.base_url) == []
    errors = journey(platform.edge.base_url, midway=lambda: kill(platform.catalogs[1]))
    print(f"\njourney with catalog instance 2 SIGKILLed before ordering: {len(errors)} client-visible errors")
    assert errors == []
