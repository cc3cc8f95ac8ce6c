# ruff: noqa: E501  (a PromQL query reads best on one line)
"""Writes the Grafana dashboards in deploy/grafana/dashboards/ (run it after editing this file:
``.venv/bin/python deploy/grafana/generate.py``); deploy/tests/test_prometheus_rules.py checks
that the JSON is current, that every query parses and that it names only exported metrics.

Dashboards: the platform overview, one per service, the saga and its events. Each reads a
Prometheus data source chosen by the ``datasource`` variable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
SERVICES = ("gateway", "users", "catalog", "orders")
R = "$__rate_interval"


def panel(title: str, *exprs: tuple[str, str], unit: str = "short", kind: str = "timeseries") -> dict[str, Any]:
    return {"type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
                        for i, (expr, legend) in enumerate(exprs)]}


def dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    for i, p in enumerate(panels):
        p["id"] = i + 1
        p["gridPos"] = {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8}
    return {"uid": uid, "title": title, "tags": ["flotilla"], "timezone": "utc", "schemaVersion": 39,
            "refresh": "10s", "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
            "panels": panels}


def red(service: str) -> list[dict[str, Any]]:
    sel = f'service="{service}"'
    return [
        panel("Requests per second by endpoint",
              (f"sum by (method, url_rule) (rate(flask_http_request_duration_seconds_count{{{sel}}}[{R}]))",
               "{{method}} {{url_rule}}"), unit="reqps"),
        panel("5xx per second by endpoint",
              (f'sum by (method, url_rule) (rate(flask_http_request_duration_seconds_count{{{sel},status=~"5.."}}[{R}]))',
               "{{method}} {{url_rule}}"), unit="reqps"),
        panel("p99 latency by endpoint",
              (f"histogram_quantile(0.99, sum by (method, url_rule, le) "
               f"(rate(flask_http_request_duration_seconds_bucket{{{sel}}}[{R}])))", "{{method}} {{url_rule}}"),
              unit="s"),
        panel("Error budget burn (availability, 1h and 5m)",
              (f"service:slo_availability_errors:ratio_rate1h{{{sel}}} / 0.001", "1h"),
              (f"service:slo_availability_errors:ratio_rate5m{{{sel}}} / 0.001", "5m")),
    ]


def worker(service: str) -> list[dict[str, Any]]:
    sel = f'service="{service}"'
    return [
        panel("Events consumed, retried, parked",
              (f"sum by (outcome) (rate(flotilla_events_consumed_total{{{sel}}}[{R}]))", "consumed {{outcome}}"),
              (f"rate(flotilla_events_retried_total{{{sel}}}[{R}])", "retried"),
              (f"sum by (reason) (rate(flotilla_events_dead_lettered_total{{{sel}}}[{R}]))", "parked {{reason}}"),
              unit="ops"),
        panel("Outbox backlog and oldest unsent age",
              (f"flotilla_outbox_backlog{{{sel}}}", "unsent rows"),
              (f"flotilla_outbox_oldest_unsent_age_seconds{{{sel}}}", "oldest age (s)")),
    ]


SPECIFIC: dict[str, list[dict[str, Any]]] = {
    "gateway": [
        panel("Rate-limited requests", (f"sum by (limit) (rate(flotilla_gateway_rate_limited_total[{R}]))",
                                        "{{limit}}"), unit="reqps"),
        panel("Open breakers per upstream instance",
              ('max by (upstream_url) (flotilla_circuit_breaker_state{job="gateway",state=~"open|half-open"})',
               "{{upstream_url}}")),
        panel("Retries spent and refused by the budget",
              (f"sum by (upstream) (rate(flotilla_retry_budget_spent_total{{job=\"gateway\"}}[{R}]))",
               "spent {{upstream}}"),
              (f"sum by (upstream) (rate(flotilla_retry_budget_exhausted_total{{job=\"gateway\"}}[{R}]))",
               "refused {{upstream}}"), unit="ops"),
    ],
    "users": [
        panel("Failed and throttled logins",
              (f"rate(flotilla_users_login_failures_total[{R}])", "failed"),
              (f"rate(flotilla_users_logins_throttled_total[{R}])", "throttled"), unit="ops"),
        panel("Refresh-token revocations",
              (f"sum by (reason) (rate(flotilla_users_token_revocations_total[{R}]))", "{{reason}}"), unit="ops"),
        *worker("users"),
    ],
    "catalog": worker("catalog"),
    "orders": [
        panel("Orders by outcome", (f"sum by (outcome) (rate(flotilla_orders_total[{R}]))", "{{outcome}}"),
              unit="ops"),
        panel("Orders timed out by the sweeper", (f"rate(flotilla_orders_timed_out_total[{R}])", "timed out"),
              unit="ops"),
        *worker("orders"),
    ],
}


def overview() -> dict[str, Any]:
    return dashboard("flotilla-overview", "Flotilla: platform overview", [
        panel("Targets up", ("up", "{{job}} {{instance}}")),
        panel("Requests per second by service",
              (f"sum by (service) (rate(flask_http_request_duration_seconds_count[{R}]))", "{{service}}"),
              unit="reqps"),
        panel("5xx ratio by service (5m)", ("service:slo_availability_errors:ratio_rate5m", "{{service}}"),
              unit="percentunit"),
        panel("Share slower than 500 ms by service (5m)", ("service:slo_latency_slow:ratio_rate5m", "{{service}}"),
              unit="percentunit"),
        panel("p99 latency by service",
              (f"histogram_quantile(0.99, sum by (service, le) (rate(flask_http_request_duration_seconds_bucket[{R}])))",
               "{{service}}"), unit="s"),
        panel("Orders by outcome", (f"sum by (outcome) (rate(flotilla_orders_total[{R}]))", "{{outcome}}"),
              unit="ops"),
        panel("Outbox backlog by service", ("flotilla_outbox_backlog", "{{service}}")),
        panel("Open breakers", ('count(flotilla_circuit_breaker_state{state="open"} == 1) or vector(0)',
                                "open"), kind="stat"),
    ])


def saga() -> dict[str, Any]:
    q = "histogram_quantile({0}, sum by (le) (rate(flotilla_order_saga_duration_seconds_bucket[{1}])))"
    return dashboard("flotilla-saga-events", "Flotilla: order saga and events", [
        panel("Saga duration, placed -> final", (q.format(0.5, R), "p50"), (q.format(0.95, R), "p95"),
              (q.format(0.99, R), "p99"), unit="s"),
        panel("Saga endings by outcome",
              (f"sum by (outcome) (rate(flotilla_order_saga_duration_seconds_count[{R}]))", "{{outcome}}"),
              unit="ops"),
        panel("Orders by outcome", (f"sum by (outcome) (rate(flotilla_orders_total[{R}]))", "{{outcome}}"),
              unit="ops"),
        panel("Events published by service",
              (f"sum by (service) (rate(flotilla_events_published_total[{R}]))", "{{service}}"), unit="ops"),
        panel("Events consumed by service",
              (f"sum by (service, outcome) (rate(flotilla_events_consumed_total[{R}]))", "{{service}} {{outcome}}"),
              unit="ops"),
        panel("Retried and parked by service",
              (f"sum by (service) (rate(flotilla_events_retried_total[{R}]))", "retried {{service}}"),
              ("sum by (service) (increase(flotilla_events_dead_lettered_total[1h]))", "parked (1h) {{service}}")),
        panel("Outbox backlog", ("flotilla_outbox_backlog", "{{service}}")),
        panel("Oldest unsent outbox row", ("flotilla_outbox_oldest_unsent_age_seconds", "{{service}}"), unit="s"),
    ])


def dashboards() -> dict[str, dict[str, Any]]:
    made = {"overview.json": overview(), "saga-events.json": saga()}
    for service in SERVICES:
        made[f"service-{service}.json"] = dashboard(f"flotilla-{service}", f"Flotilla: {service}",
                                                    red(service) + SPECIFIC[service])
    return made


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2) + "\n"


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, board in dashboards().items():
        (OUT / name).write_text(render(board))
        print(f"wrote {OUT / name}")
