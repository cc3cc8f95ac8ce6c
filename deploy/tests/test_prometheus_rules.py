"""deploy/prometheus/rules.yml: valid for Prometheus (`promtool check rules`), its alerts
behave as their unit tests say (`promtool test rules`), and every metric it reads is one
the platform exports."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

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
             "unless", "le", "without", "ignoring", "max", "min", "avg", "count", "vector"}


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


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)                    # label values
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)       # matchers, ranges
    expr = re.sub(r"\b(by|without|on|ignoring) \([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\b\d+(\.\d+)?(e-?\d+)?\b", "", expr)     # numbers
    return set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - FUNCTIONS


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def test_rules_read_only_exported_metrics_and_recorded_series() -> None:
    for rule in rules():
        unknown = metric_names(rule["expr"]) - EXPORTED - recorded()
        assert not unknown, f"{rule.get('record') or rule.get('alert')} reads {unknown}"


# --- Grafana dashboards (deploy/grafana) ---------------------------------------------------

GRAFANA = ROOT / "deploy" / "grafana"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, query) of every committed dashboard."""
    found = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                found.append((path.name, panel["title"], target["expr"]))
    return found


def test_the_dashboards_are_generated_and_current() -> None:
    made = generator().dashboards()
    assert {"overview.json", "saga-events.json", "service-gateway.json", "service-users.json",
            "service-catalog.json", "service-orders.json"} <= set(made)
    on_disk = {p.name for p in (GRAFANA / "dashboards").glob("*.json")}
    assert on_disk == set(made), "run .venv/bin/python deploy/grafana/generate.py"
    for name, board in made.items():
        assert (GRAFANA / "dashboards" / name).read_text() == generator().render(board), (
            f"{name} is stale: run .venv/bin/python deploy/grafana/generate.py")


def test_every_panel_query_parses(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule ($__rate_interval stands for 5m)."""
    queries = panel_queries()
    assert len(queries) > 30
    checks = [{"record": f"dashboard_check:q{i}", "expr": q.replace("$__rate_interval", "5m")}
              for i, (_, _, q) in enumerate(queries)]
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": checks}]}))
    result = run("check", "rules", str(tmp_path / "dashboards.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    # The check can fail: a broken query is refused.
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "d", "rules": [{"record": "x:y", "expr": "sum by (service (up)"}]}]}))
    assert run("check", "rules", str(tmp_path / "broken.yml")).returncode != 0


def test_every_panel_names_only_exported_metrics() -> None:
    for dashboard, title, query in panel_queries():
        unknown = metric_names(query.replace("$__rate_interval", "5m")) - EXPORTED - recorded()
        assert not unknown, f"{dashboard} / {title}: {unknown}"


def test_compose_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in (
        compose["services"]["prometheus"]["volumes"])
