"""Forwarding: paths, headers both ways, request ids and trace context, and no open proxy."""

from __future__ import annotations

import re

PROBLEM = "application/problem+json"


def test_forwards_method_path_query_and_body_to_the_routed_upstream(gw, upstreams):
    response = gw.post("/api/v1/products", json={"name": "x"})
    assert response.status_code == 201
    assert response.headers["Location"].startswith("/api/v1/products/")  # rewritten to the public path
    got = gw.get("/api/v1/products?q=kettle&limit=2")
    assert got.json["served_by"] == "catalog"
    assert upstreams["catalog"].seen[-1][1] == "/products?q=kettle&limit=2"


def test_head_keeps_the_upstreams_content_length(gw):
    get = gw.get("/api/v1/products")
    head = gw.head("/api/v1/products")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(get.data))


def test_hop_by_hop_headers_are_stripped_and_forwarded_headers_set(gw, upstreams):
    gw.get("/api/v1/products", headers={
        "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "timeout=5",
        "TE": "trailers", "Proxy-Authorization": "Basic abc", "X-Forwarded-For": "6.6.6.6",
        "X-Custom": "kept", "Host": "api.example.com"})
    _, _, headers = upstreams["catalog"].seen[-1]
    lowered = {k.lower(): v for k, v in headers.items()}
    for hop in ("x-secret-hop", "keep-alive", "te", "proxy-authorization"):
        assert hop not in lowered
    assert lowered["x-custom"] == "kept"
    assert lowered["x-forwarded-for"] == "127.0.0.1"  # a client's own claim is not trusted
    assert lowered["x-forwarded-host"] == "api.example.com"
    assert lowered["x-forwarded-proto"] == "http"
    assert lowered["x-forwarded-prefix"] == "/api/v1"


def test_request_id_and_traceparent_are_passed_through_or_created(gw, upstreams):
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = gw.get("/api/v1/products", headers={"X-Request-ID": "abc-123", "traceparent": trace})
    assert response.headers["X-Request-ID"] == "abc-123"
    _, _, headers = upstreams["catalog"].seen[-1]
    assert headers["X-Request-Id"] == "abc-123"
    sent = headers["Traceparent"]
    assert sent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and sent.endswith("-01")
    assert sent != trace  # a new span id for our hop
    gw.get("/api/v1/products", headers={"traceparent": "garbage"})
    _, _, headers = upstreams["catalog"].seen[-1]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", headers["Traceparent"])
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])


def test_security_headers_on_every_answer(gw):
    response = gw.get("/api/v1/products")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    secure = gw.get("/api/v1/products", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_open_proxy(gw, upstreams):
    before = sum(u.hits.total() for u in upstreams.values())
    cases = [
        gw.get("/api/v1/products/../users/me"),
        gw.get("/api/v1/products/%2e%2e/x"),
        gw.get("/api/v1/products%2F..%2Fusers"),
        gw.get("/api/v1//products"),
        gw.get("/api/v1/products", headers={"Host": "evil.example@127.0.0.1"}),
        gw.get("/api/v1/products", environ_overrides={"RAW_URI": "http://evil.example/api/v1/products",
                                                      "REQUEST_URI": "http://evil.example/api/v1/products"}),
    ]
    assert [r.status_code for r in cases] == [400] * len(cases), [r.json for r in cases]
    assert all(r.mimetype == PROBLEM for r in cases)
    assert gw.get("/api/v1/admin/anything").status_code == 404
    assert gw.get("/elsewhere").status_code == 404
    assert sum(u.hits.total() for u in upstreams.values()) == before


def test_allowed_hosts_when_configured(make_gateway):
    gw = make_gateway(allowed_hosts="api.flotilla.test")
    assert gw.get("/api/v1/products", headers={"Host": "api.flotilla.test"}).status_code == 200
    assert gw.get("/api/v1/products", headers={"Host": "other.test"}).status_code == 400


def test_body_size_limit(make_gateway):
    gw = make_gateway(max_body_bytes=1000)
    response = gw.post("/api/v1/products", data="{" + '"a":' + '"' + "x" * 2000 + '"}',
                       content_type="application/json")
    assert response.status_code == 413 and response.mimetype == PROBLEM


def test_cors_for_configured_origins_only(make_gateway):
    gw = make_gateway(cors_origins="https://shop.example")
    ok = gw.get("/api/v1/products", headers={"Origin": "https://shop.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = gw.get("/api/v1/products", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = gw.options("/api/v1/products", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_upstream_down_is_503_with_retry_after(make_gateway):
    gw = make_gateway(urls={"catalog": ["http://127.0.0.1:9"]})
    response = gw.get("/api/v1/products")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_behind_one_trusted_proxy_the_client_address_comes_from_it(make_gateway, upstreams):
    gw = make_gateway(trusted_proxies=1, rate_limit="2/minute")
    nginx_says = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    gw.get("/api/v1/products", headers=nginx_says)
    _, _, headers = upstreams["catalog"].seen[-1]
    assert headers["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "https"
    assert gw.get("/api/v1/products", headers=nginx_says).status_code == 200
    assert gw.get("/api/v1/products", headers=nginx_says).status_code == 429  # 203.0.113.7's quota
    other = {"X-Forwarded-For": "198.51.100.9"}
    assert gw.get("/api/v1/products", headers=other).status_code == 200  # another client's own


def test_a_direct_client_rotating_x_forwarded_for_is_still_throttled(make_gateway, upstreams):
    gw = make_gateway(trusted_proxies=1, trusted_proxy_addresses="10.0.0.0/24", rate_limit="3/minute")
    direct = {"REMOTE_ADDR": "198.51.100.20"}  # not a proxy we trust
    statuses = [gw.get("/api/v1/products", headers={"X-Forwarded-For": f"203.0.113.{n}"},
                       environ_base=direct).status_code for n in range(10)]
    assert statuses == [200] * 3 + [429] * 7
    _, _, headers = upstreams["catalog"].seen[-1]
    assert headers["X-Forwarded-For"] == "198.51.100.20"  # its claims are not passed on either
    via_proxy = [gw.get("/api/v1/products", headers={"X-Forwarded-For": f"203.0.113.{n}"},
                        environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code for n in range(10)]
    assert via_proxy == [200] * 10  # ten clients behind the trusted proxy, one request each
    assert upstreams["catalog"].seen[-1][2]["X-Forwarded-For"] == "203.0.113.9, 10.0.0.5"


def test_trusted_proxy_addresses_are_checked_at_start_up():
    import pytest as _pytest
    from pydantic import ValidationError

    from gateway.config import GatewaySettings

    with _pytest.raises(ValidationError):
        GatewaySettings(trusted_proxy_addresses="10.0.0.0/33")
