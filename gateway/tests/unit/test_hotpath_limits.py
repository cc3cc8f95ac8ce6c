"""The proxied route's own limit check: counted once per request, 429 problem with the headers,
and Flask-Limiter's per-request hooks skipped on the gateway's routes (but not elsewhere)."""

from __future__ import annotations

from flask import Flask

from gateway.headers import add_security_headers, upstream_headers


def test_a_proxied_request_is_counted_once_and_flask_limiters_hooks_are_skipped(make_gateway):
    gw = make_gateway(rate_limit="3/minute")
    limiter = gw.application.extensions["gateway_limiter"]
    hooks = gw.application.before_request_funcs[None]
    assert any(getattr(h, "__wrapped__", None) == limiter._check_request_limit for h in hooks)
    statuses = [gw.get("/api/v1/products") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in statuses[:3]] == ["2", "1", "0"]
    refused = statuses[-1]
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429 and "Retry-After" in refused.headers
    assert gw.get("/health/live").status_code == 200  # not limited, Flask-Limiter's hook ran


def test_security_headers_in_one_pass_keep_an_answers_own():
    app = Flask(__name__)
    with app.test_request_context("/api/v1/products", headers={"Authorization": "Bearer x"}) as ctx:
        response = app.response_class("{}", headers={"X-Frame-Options": "SAMEORIGIN"})
        add_security_headers(response, ctx.request)
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers
    with app.test_request_context("/docs", base_url="https://localhost") as ctx:
        response = add_security_headers(app.response_class("x"), ctx.request)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_upstream_headers_drop_hop_by_hop_and_connection_listed_ones():
    app = Flask(__name__)
    incoming = {"Connection": "keep-alive, X-Secret", "X-Secret": "s", "Accept": "a",
                "X-Forwarded-For": "198.51.100.1", "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    with app.test_request_context("/api/v1/products", headers=incoming) as ctx:
        trusted = upstream_headers(ctx.request, "rid", "10.0.0.2", trusted_peer=True)
        untrusted = upstream_headers(ctx.request, "rid", "10.0.0.2", trusted_peer=False)
    assert "X-Secret" not in trusted and "Connection" not in trusted and trusted["Accept"] == "a"
    assert trusted["X-Forwarded-For"] == "198.51.100.1, 10.0.0.2"
    assert untrusted["X-Forwarded-For"] == "10.0.0.2"
    parent = trusted["traceparent"]
    assert parent.startswith("00-" + "1" * 32 + "-") and parent.endswith("-01")
    assert trusted["X-Request-ID"] == "rid" and trusted["X-Forwarded-Prefix"] == "/api/v1"
