"""The gateway counts the requests its own limits refuse, per limit, on /metrics; an
upstream's own 429 passed through is not one of them."""

from __future__ import annotations

from flotilla.testing import metric_value


def _limited(gw, limit: str) -> float:
    text = gw.get("/metrics").get_data(as_text=True)
    return metric_value(text, "flotilla_gateway_rate_limited_total", service="gateway", limit=limit)


def test_refusals_are_counted_per_limit(make_gateway):
    gw = make_gateway(rate_limit="4/minute", auth_rate_limit="2/minute")
    before = {limit: _limited(gw, limit) for limit in ("auth", "default")}
    statuses = [gw.get("/api/v1/products").status_code for _ in range(6)]
    logins = [gw.post("/api/v1/auth/login", json={}).status_code for _ in range(5)]
    assert statuses.count(429) == 2 and logins.count(429) == 3
    after = {limit: _limited(gw, limit) for limit in ("auth", "default")}
    assert {k: after[k] - before[k] for k in after} == {"auth": 3, "default": 2}
