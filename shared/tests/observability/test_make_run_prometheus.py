"""scripts/prometheus.sh (make run's Prometheus): a real Prometheus on loopback, with a
target for every api, every worker and the gateway of services.toml, and the rules loaded."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flotilla.services_list import PORTS, WORKER_PORTS
from flotilla.testing import free_port, wait_for

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: Debian's `prometheus` package "
                    "(scripts/system-deps.sh run installs it as root).", pytrace=False)
    work = tmp_path_factory.mktemp("prom")
    (work / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "prometheus.sh", work / "scripts")
    (work / "deploy" / "prometheus").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "prometheus" / "rules.yml", work / "deploy" / "prometheus")
    (work / ".venv").symlink_to(ROOT / ".venv")
    port = free_port()
    env = {**os.environ, "PROMETHEUS_PORT": str(port), "CATALOG_PORT": "18082"}
    proc = subprocess.Popen([str(work / "scripts" / "prometheus.sh")], env=env, cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        wait_for(ready, timeout=20, what="prometheus ready")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    assert (work / "var" / "prometheus" / "data").is_dir()


def api(url: str, path: str) -> Any:
    body = httpx.get(f"{url}/api/v1/{path}", timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]


def test_every_process_is_a_target(prometheus: str) -> None:
    def targets() -> dict[str, str] | None:
        found = {t["labels"]["job"]: t["scrapeUrl"] for t in api(prometheus, "targets")["activeTargets"]}
        return found or None
    found = wait_for(targets, timeout=10, what="targets")
    expected = {"gateway", "prometheus", *(f"{s}-api" for s in PORTS), *(f"{s}-worker" for s in WORKER_PORTS)}
    assert set(found) == expected
    assert found["catalog-api"] == "http://127.0.0.1:18082/metrics"  # the make run variable wins
    assert found["orders-worker"] == f"http://127.0.0.1:{WORKER_PORTS['orders']}/metrics"
    assert all(u.startswith("http://127.0.0.1:") for u in found.values())


def test_the_rules_are_loaded(prometheus: str) -> None:
    groups = {g["name"]: g for g in api(prometheus, "rules")["groups"]}
    assert {"flotilla-slo-availability", "flotilla-slo-latency", "flotilla-platform-alerts"} <= set(groups)
    alerts = {r["name"] for g in groups.values() for r in g["rules"] if r["type"] == "alerting"}
    assert {"TargetDown", "OutboxLag", "AvailabilityBudgetBurnFast"} <= alerts
