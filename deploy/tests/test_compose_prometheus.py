"""Compose's Prometheus (deploy/prometheus/compose.yml) finds its targets in Consul.

Every api, worker and the gateway registers in the fake Consul agent the way the platform
registers them (gunicorn's ``when_ready`` hook, the worker's health server). Debian's
Prometheus is built without the Consul discoverer (nor the Kubernetes one), so the targets
``consul_sd_configs`` makes of the agent's answers (``/v1/catalog/services`` and
``/v1/health/service/<name>``, read over HTTP here) are written as Prometheus' Consul
discovery labels them (``__address__``, ``__meta_consul_*``) into a file that a real
Prometheus, with compose.yml's relabelling unchanged, discovers in place of Consul: it must
scrape each instance under the job names the rules and dashboards use (``<service>-api``,
``<service>-worker``, ``gateway``) with its address as ``instance``; Consul's own entry is not
scraped, and a worker that deregisters is no longer. ``promtool check config`` checks the
rest of the file (with the same substitution)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml

from flotilla import services_list
from flotilla.discovery import registration
from flotilla.testing import free_port, wait_for
from flotilla.testing.fake_consul import FakeConsul

from .conftest import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
COMPOSE_CONFIG = PROMETHEUS / "compose.yml"


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.fail(f"{binary} is not installed: Debian's `prometheus` package.", pytrace=False)


def _config(tmp: Path, consul: str | None = None, port: int = 9090) -> Path:
    """compose.yml with the rules beside it and Consul discovery in a file (``tmp/consul.json``);
    when ``consul`` is given, scraping and refreshing every second."""
    config = yaml.safe_load(COMPOSE_CONFIG.read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["prometheus"]
    mounts = dict(reversed(v.split(":")[:2]) for v in compose["volumes"])
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/compose.yml"
    config["rule_files"] = [str(tmp / Path(mounts[f]).name) for f in config["rule_files"]]
    for rules in config["rule_files"]:
        shutil.copy(ROOT / mounts[f"/etc/prometheus/{Path(rules).name}"], rules)
    if consul is not None:
        config["global"].update(scrape_interval="1s", scrape_timeout="900ms")
        for job in config["scrape_configs"]:
            for static in job.get("static_configs", []):
                static["targets"] = [f"127.0.0.1:{port}"]
    for job in config["scrape_configs"]:  # Debian's build has no Consul discoverer
        sds = job.pop("consul_sd_configs", None)
        if sds is not None:
            assert [sd["server"] for sd in sds] == ["consul:8500"]
            job["file_sd_configs"] = [{"files": [str(tmp / "consul.json")], "refresh_interval": "1s"}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_compose_config_is_valid_for_promtool(tmp_path: Path) -> None:
    _need("promtool")
    proc = subprocess.run(["promtool", "check", "config", str(_config(tmp_path))],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _Instance:
    """A process's HTTP side as Consul's check and Prometheus see it: /health/ready, /metrics."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = b"flotilla_test_up 1\n" if self.path == "/metrics" else b'{"status": "ok"}'
                self.send_response(200 if self.path in ("/metrics", "/health/ready") else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def consul_sd_targets(agent: str) -> list[dict[str, Any]]:
    """What Prometheus' ``consul_sd_configs`` (every service, any health) makes of the agent at
    ``agent``: one target group per service, one target per instance, labelled as its
    discovery/consul documents (``__address__`` is the service's address, else the node's)."""
    groups = []
    catalog = httpx.get(f"http://{agent}/v1/catalog/services", timeout=5).json()
    dc = httpx.get(f"http://{agent}/v1/agent/self", timeout=5).json()["Config"]["Datacenter"]
    for name in catalog:  # name -> tags
        entries = httpx.get(f"http://{agent}/v1/health/service/{name}", params={"dc": dc}, timeout=5).json()
        targets = []
        for entry in entries:
            node, svc = entry["Node"], entry["Service"]
            statuses = {c["Status"] for c in entry["Checks"]}
            health = next(s for s in ("maintenance", "critical", "warning", "passing")
                          if s in statuses or s == "passing")
            labels = {"__address__": f"{svc['Address'] or node['Address']}:{svc['Port']}",
                      "__meta_consul_address": node["Address"], "__meta_consul_dc": dc,
                      "__meta_consul_health": health, "__meta_consul_node": node["Node"],
                      "__meta_consul_service": name, "__meta_consul_service_address": svc["Address"],
                      "__meta_consul_service_id": svc["ID"], "__meta_consul_service_port": str(svc["Port"]),
                      "__meta_consul_tags": "," + ",".join(svc["Tags"]) + ","}
            labels.update({f"__meta_consul_service_metadata_{k}": v for k, v in svc["Meta"].items()})
            targets.append(labels)
        for labels in targets:
            groups.append({"targets": [labels.pop("__address__")], "labels": labels})
    return groups


def _discover(agent: FakeConsul, tmp: Path) -> None:
    staged = tmp / "consul.json.new"
    staged.write_text(json.dumps(consul_sd_targets(agent.address)))
    staged.replace(tmp / "consul.json")


def _targets(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    active = httpx.get(f"{url}/api/v1/targets", params={"state": "active"}, timeout=5).json()
    return {(t["labels"]["job"], t["labels"]["instance"]): t for t in active["data"]["activeTargets"]
            if t["scrapePool"] == "flotilla"}


@pytest.fixture
def consul(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConsul]:
    agent = FakeConsul().start()
    monkeypatch.setenv("DISCOVERY", "consul")
    monkeypatch.setenv("CONSUL_HTTP_ADDR", agent.address)
    monkeypatch.delenv("SERVICE_ADDRESS", raising=False)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.setattr(registration, "_registration", None)
    yield agent
    agent.stop()


def test_prometheus_finds_every_api_worker_and_gateway_registered_in_consul(
        consul: FakeConsul, tmp_path: Path) -> None:
    _need("prometheus")
    instances: list[_Instance] = []
    expected: dict[tuple[str, str], str] = {}  # (job, instance) -> Consul service id
    deregister_one = None
    try:
        # apis and the gateway: gunicorn's when_ready hook (bound on every address);
        # two catalog replicas, scraped one by one
        apps = [f"{svc}:create_app()" for svc in services_list.PORTS] + ["catalog:create_app()",
                                                                         "gateway:create_app()"]
        for app in apps:
            instances.append(instance := _Instance())
            registration.on_ready(SimpleNamespace(address=[("0.0.0.0", instance.port)],  # noqa: S104
                                                  app=SimpleNamespace(app_uri=app)))
            name = app.split(":")[0]
            job = name if name == "gateway" else f"{name}-api"
            expected[(job, f"127.0.0.1:{instance.port}")] = f"{name}-127.0.0.1-{instance.port}"
        # workers: their health and metrics server (WORKER_HOST=0.0.0.0 as in the images)
        for svc in services_list.WORKER_PORTS:
            instances.append(instance := _Instance())
            deregister = registration.register_worker(svc, "0.0.0.0", instance.port)  # noqa: S104
            expected[(f"{svc}-worker", f"127.0.0.1:{instance.port}")] = (
                f"{svc}-worker-127.0.0.1-{instance.port}")
            deregister_one = deregister_one or (deregister, (f"{svc}-worker", f"127.0.0.1:{instance.port}"))
        # the agent lists itself, as Consul does
        consul.register({"Name": "consul", "ID": "consul", "Address": "127.0.0.1", "Port": 8300})
        assert {s["Service"] for s in consul.services.values()} == (
            {"consul", "gateway"} | set(services_list.PORTS)
            | {f"{svc}-worker" for svc in services_list.WORKER_PORTS})

        port = free_port()
        config = _config(tmp_path, consul.address, port)
        _discover(consul, tmp_path)
        log = (tmp_path / "prometheus.log").open("wb")
        proc = subprocess.Popen(["prometheus", f"--config.file={config}",
                                 f"--storage.tsdb.path={tmp_path / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            def scraped() -> dict[tuple[str, str], dict[str, Any]] | None:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "prometheus.log").read_text()[-3000:])
                try:
                    targets = _targets(url)
                except httpx.HTTPError:
                    return None
                done = set(targets) == set(expected) and all(t["health"] == "up" for t in targets.values())
                return targets if done else None

            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "prometheus.log").read_text()[-3000:])
                try:
                    return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready, timeout=30, interval=0.2, what="prometheus ready")
            targets = wait_for(scraped, timeout=20, interval=0.2, what="every registered instance scraped")
            for (job, instance), target in targets.items():
                assert target["labels"] == {"job": job, "instance": instance,
                                            "consul_service_id": expected[(job, instance)]}
                assert target["scrapeUrl"] == f"http://{instance}/metrics"
            # the jobs the rules and dashboards name, every one of them
            assert {job for job, _ in targets} == (
                {f"{svc}-api" for svc in services_list.PORTS} | {"gateway"}
                | {f"{svc}-worker" for svc in services_list.WORKER_PORTS})

            # a worker stopping deregisters; Prometheus drops its target
            assert deregister_one is not None
            deregister, gone = deregister_one
            deregister()
            _discover(consul, tmp_path)
            wait_for(lambda: set(_targets(url)) == set(expected) - {gone}, timeout=20, interval=0.2,
                     what="the deregistered worker no longer scraped")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    finally:
        for instance in instances:
            instance.stop()
