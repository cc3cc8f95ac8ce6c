"""Real gunicorn gateway and nginx: X-Forwarded-For counts only from the edge's own address."""

from __future__ import annotations

import http.client

import pytest
import requests

pytestmark = pytest.mark.slow


def test_only_the_edges_address_may_forward_client_addresses(catalog_pair, gateway_for, nginx_for):
    gateway = gateway_for([s.base_url for s in catalog_pair], GATEWAY_RATE_LIMIT="3/minute",
                          GATEWAY_TRUSTED_PROXY_ADDRESSES="127.0.0.2")
    edge = nginx_for(gateway.port, proxy_bind="127.0.0.2")  # as under make run
    url = "/api/v1/products?limit=1"
    direct = []
    for n in range(6):  # a client on 127.0.0.3 that reaches the gateway's port itself
        conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5,
                                          source_address=("127.0.0.3", 0))
        conn.request("GET", url, headers={"X-Forwarded-For": f"203.0.113.{n}"})
        direct.append(conn.getresponse().status)
        conn.close()
    with requests.Session() as session:
        through = [session.get(edge.base_url + url, timeout=5).status_code for _ in range(4)]
    assert direct == [200] * 3 + [429] * 3  # rotating the header gains nothing
    assert through == [200] * 3 + [429]  # the edge's client (127.0.0.1 as nginx saw it)...
    with requests.Session() as session:
        spoofed = session.get(edge.base_url + url, headers={"X-Forwarded-For": "203.0.113.99"}, timeout=5)
    assert spoofed.status_code == 429  # ...is the rightmost address, whatever it claims before it
