"""deploy/prometheus/rules.yml: valid for Prometheus (`promtool check rules`), its alerts
behave as their unit tests say (`promtool test rules`), and every metric it reads is one
the platform exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*_test.yml"))

# What the processes export (flotilla.metrics via prometheus-flask-exporter, flotilla.events.metrics,
# the orders worker's sweeper) plus Prometheus' own `up`.
EXPORTED = {
    "up",
    "flask_http_request_duration_seconds_bucket", "flask_http_request_duration_seconds_count",
    "flask_http_request_duration_seconds_sum", "flask_http_request_total",
    "flotilla_events_consumed_total", "flotilla_events_retried_total",
    "flotilla_events_dead_lettered_total", "flotilla_events_published_total",
    "flotilla_outbox_backlog", "flotilla_outbox_oldest_unsent_age_seconds",
    "flotilla_orders_timed_out_total", "flotilla_orders_total",
    "flotilla_order_saga_duration_seconds_bucket", "flotilla_order_saga_duration_seconds_count",
    "flotilla_order_saga_duration_seconds_sum",
    "flotilla_circuit_breaker_state", "flotilla_circuit_breaker_transitions_total",
    "flotilla_retry_budget_spent_total", "flotilla_retry_budget_exhausted_total",
    "flotilla_gateway_rate_limited_total", "flotilla_users_login_failures_total",
    "flotilla_users_logins_throttled_total", "flotilla_users_token_revocations_total",
}
FUNCTIONS = {"sum", "by", "rate", "increase", "delta", "histogram_quantile", "and", "or", "on",
             "unless", "le", "without", "ignoring", "max", "min", "avg", "count"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: install Debian's `prometheus` package "
                    "(scripts/system-deps.sh test does it as root).", pytrace=False)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60,
                          cwd=PROMETHEUS, check=False)


def test_rules_are_valid() -> None:
    result = run("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    result = run("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_rule_unit_tests() -> None:
    assert RULE_TESTS


def rules() -> list[dict[str, str]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_alert_of_the_issue_exists() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert {"AvailabilityBudgetBurnFast", "AvailabilityBudgetBurnSlow", "LatencyBudgetBurnFast",
            "LatencyBudgetBurnSlow", "TargetDown", "MessagesParked", "OutboxLag",
            "EventsNotConsumed", "CircuitBreakerOpen"} <= alerts


def test_every_alert_is_unit_tested() -> None:
    tested = set(re.findall(r"alertname:\s*(\w+)", "".join(p.read_text() for p in RULE_TESTS)))
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - tested <= {"AvailabilityBudgetBurnSlow", "LatencyBudgetBurnSlow"}


def test_rules_read_only_exported_metrics_and_recorded_series() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        expr = re.sub(r'"[^"]*"', "", rule["expr"])            # label values
        expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)       # matchers, ranges
        expr = re.sub(r"by \([^)]*\)", "", expr)               # grouping labels
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - FUNCTIONS
        unknown = names - EXPORTED - recorded
        assert not unknown, f"{rule.get('record') or rule.get('alert')} reads {unknown}"


def test_compose_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in (
        compose["services"]["prometheus"]["volumes"])
