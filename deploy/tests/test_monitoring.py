"""Kubernetes scraping, checked offline: every api, worker and gateway pod carries prometheus.io/*
annotations naming a port it declares; both ways of discovering them find exactly those pods,
each once, at that port and path, with the job labels the rules and dashboards use
(``<service>-api``, ``<service>-worker``, ``gateway``):

- deploy/prometheus/kubernetes.yml (a plain Prometheus, pod discovery): its relabelling,
  applied here as Prometheus applies it to the targets pod discovery makes of the rendered
  pod templates; ``promtool check config`` on it (Debian's promtool lacks the Kubernetes
  discoverer, so with static targets in its place);
- deploy/k8s/components/monitoring (a PodMonitor for the Prometheus Operator), rendered with
  each overlay: its selector and ports, and the same relabelling;
- the component's PrometheusRule: deploy/prometheus/rules.yml as its spec, the file up to
  date (``.venv/bin/python -m deploy.tests.test_monitoring`` rewrites it), in each overlay's
  namespace, with only the fields the operator's CRD knows, and valid for ``promtool check
  rules``."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import K8S, OVERLAYS, ROOT, SERVICES, Obj, containers, kubectl

KUBERNETES_CONFIG = ROOT / "deploy" / "prometheus" / "kubernetes.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PROMETHEUS_RULE = K8S / "components" / "monitoring" / "prometheusrule.yaml"
EXPECTED_JOBS = {f"{svc}-{part}" for svc in SERVICES for part in ("api", "worker")} | {"gateway"}
POD_IP = "10.1.2.3"


def _render_with_monitoring(overlay: str, tmp: Path) -> list[Obj]:
    target = K8S / "overlays" / overlay
    base = yaml.safe_load((target / "kustomization.yaml").read_text())
    wrapper = tmp / overlay
    wrapper.mkdir()
    (wrapper / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": base["namespace"], "resources": [os.path.relpath(target, wrapper)],
        "components": [os.path.relpath(K8S / "components" / "monitoring", wrapper)]}))
    proc = subprocess.run([kubectl(), "kustomize", str(wrapper)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Obj]]:
    tmp = tmp_path_factory.mktemp("monitoring")
    return {overlay: _render_with_monitoring(overlay, tmp) for overlay in OVERLAYS}


# --- Prometheus' relabelling, as documented (anchored RE2 regexes, $n replacements) ---------------
def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Apply ``relabel_configs`` (replace, keep, drop) to one target; ``None`` when dropped."""
    labels = dict(labels)
    for config in configs:
        get = {k: config.get(k, config.get(camel)) for k, camel in
               (("source_labels", "sourceLabels"), ("target_label", "targetLabel"))}
        value = config.get("separator", ";").join(labels.get(s, "") for s in get["source_labels"] or [])
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        action = config.get("action", "replace")
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            template = re.sub(r"\$(\d+)", r"\\g<\1>", str(config.get("replacement", "$1")))
            result = match.expand(template)
            if result:
                labels[get["target_label"]] = result
            else:
                labels.pop(get["target_label"], None)
        elif action not in ("keep", "drop", "replace"):
            raise AssertionError(f"relabel action {action} not simulated here")
    return labels


def _pods(objects: list[Obj]) -> list[tuple[str, Obj]]:
    """(owner, pod template) of every workload."""
    return [(f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]) for o in objects
            if o["kind"] in ("Deployment", "Job")]


def _discovered(namespace: str, template: Obj, phase: str) -> list[dict[str, str]]:
    """The targets Prometheus' pod discovery makes of one pod: one per declared container port."""
    meta = template["metadata"]
    common = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": "pod-0",
              "__meta_kubernetes_pod_phase": phase, "__meta_kubernetes_pod_ip": POD_IP,
              "__metrics_path__": "/metrics", "__scheme__": "http"}
    for key, value in meta.get("labels", {}).items():
        common[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
    for key, value in meta.get("annotations", {}).items():
        common[f"__meta_kubernetes_pod_annotation_{_sanitize(key)}"] = value
    targets = []
    for container in template["spec"]["containers"]:
        for port in container.get("ports", []):
            targets.append({**common, "__address__": f"{POD_IP}:{port['containerPort']}",
                            "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                            "__meta_kubernetes_pod_container_port_name": port.get("name", "")})
    return targets


def _annotated(objects: list[Obj]) -> dict[str, tuple[str, str]]:
    """Job each annotated Deployment's pods should get -> (port, path) from its annotations."""
    found = {}
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        meta = deployment["spec"]["template"]["metadata"]
        notes, labels = meta.get("annotations", {}), meta["labels"]
        if notes.get("prometheus.io/scrape") != "true":
            continue
        name, component = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"]
        job = name if component == "gateway" else f"{name}-{component}"
        found[job] = (notes["prometheus.io/port"], notes.get("prometheus.io/path", "/metrics"))
    return found


def test_every_api_worker_and_gateway_pod_is_annotated_with_a_port_it_declares(
        monitored: dict[str, list[Obj]]) -> None:
    for overlay, objects in monitored.items():
        assert set(_annotated(objects)) == EXPECTED_JOBS, overlay
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            notes = deployment["spec"]["template"]["metadata"].get("annotations", {})
            if notes.get("prometheus.io/scrape") == "true":
                ports = {str(p["containerPort"]) for c in containers(deployment) for p in c.get("ports", [])}
                assert notes["prometheus.io/port"] in ports, deployment["metadata"]["name"]


def test_plain_prometheus_pod_discovery_finds_each_pod_once_with_the_platforms_job_names(
        monitored: dict[str, list[Obj]]) -> None:
    config = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    job = next(j for j in config["scrape_configs"] if j.get("kubernetes_sd_configs"))
    namespaces = job["kubernetes_sd_configs"][0]["namespaces"]["names"]
    for overlay, objects in monitored.items():
        namespace = next(o["metadata"]["namespace"] for o in objects if o["kind"] == "Deployment")
        assert namespace in namespaces
        scraped: dict[str, set[tuple[str, str]]] = {}
        for owner, template in _pods(objects):
            phase = "Succeeded" if owner.startswith("Job/") else "Running"
            for target in _discovered(namespace, template, phase):
                kept = relabel(target, job["relabel_configs"])
                if kept is not None:
                    assert kept["pod"] == "pod-0" and kept["namespace"] == namespace
                    where = (kept["__address__"], kept["__metrics_path__"])
                    scraped.setdefault(kept["job"], set()).add(where)
        expected = {name: {(f"{POD_IP}:{port}", path)} for name, (port, path) in _annotated(objects).items()}
        assert scraped == expected, overlay


def test_plain_prometheus_config_is_valid_for_promtool(tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: Debian's `prometheus` package.", pytrace=False)
    config = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    checked = copy.deepcopy(config)
    for job in checked["scrape_configs"]:  # Debian's build has no Kubernetes discoverer
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": [f"{POD_IP}:8080"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(checked))
    shutil.copy(KUBERNETES_CONFIG.parent / config["rule_files"][0], tmp_path / config["rule_files"][0])
    proc = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_monitoring_component_podmonitor_selects_every_annotated_pod_on_its_port(
        monitored: dict[str, list[Obj]]) -> None:
    for overlay, objects in monitored.items():
        [monitor] = [o for o in objects if o["kind"] == "PodMonitor"]
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        spec = monitor["spec"]
        namespace = next(o["metadata"]["namespace"] for o in objects if o["kind"] == "Deployment")
        assert monitor["metadata"]["namespace"] == namespace  # the operator looks in its own namespace
        scraped: dict[str, set[tuple[str, str]]] = {}
        for owner, template in _pods(objects):
            labels = template["metadata"]["labels"]
            if not all(labels.get(e["key"]) in e["values"] for e in spec["selector"]["matchExpressions"]):
                continue
            assert owner.startswith("Deployment/"), owner
            for endpoint in spec["podMetricsEndpoints"]:
                for target in _discovered(namespace, template, "Running"):
                    if target["__meta_kubernetes_pod_container_port_name"] != endpoint["port"]:
                        continue
                    kept = relabel(target, endpoint.get("relabelings", []))
                    assert kept is not None
                    scraped.setdefault(kept["job"], set()).add((kept["__address__"], endpoint["path"]))
        expected = {job: {(f"{POD_IP}:{port}", path)} for job, (port, path) in _annotated(objects).items()}
        assert scraped == expected, overlay


# --- the PrometheusRule: rules.yml, for the operator ------------------------------------------------
_RULE_HEAD = """\
# Generated from deploy/prometheus/rules.yml by `.venv/bin/python -m deploy.tests.test_monitoring`:
# do not edit (deploy/tests/test_monitoring.py checks it is up to date). The recording rules and
# alerts of every other Prometheus configuration, for the Prometheus Operator. The operator
# loads the PrometheusRules its Prometheus' ruleSelector matches: with kube-prometheus-stack,
# add its release label (release: <name>) in the overlay, or select
# app.kubernetes.io/part-of: flotilla (decision 0153).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: flotilla
  labels: {app.kubernetes.io/name: flotilla, app.kubernetes.io/component: monitoring,
           app.kubernetes.io/part-of: flotilla}
spec:
"""
#: What monitoring.coreos.com/v1 PrometheusRule's CRD schema accepts in a group and in a rule.
GROUP_FIELDS = {"name", "interval", "rules", "limit", "partial_response_strategy", "query_offset"}
RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def prometheus_rule() -> str:
    """The PrometheusRule, its spec rules.yml as written (comments kept)."""
    body = "".join(f"  {line}" if line.strip() else line for line in RULES.read_text().splitlines(True))
    return _RULE_HEAD + body


def test_the_prometheus_rule_is_generated_from_rules_yml() -> None:
    assert PROMETHEUS_RULE.read_text() == prometheus_rule(), (
        f"{PROMETHEUS_RULE.relative_to(ROOT)} is stale: .venv/bin/python -m deploy.tests.test_monitoring")
    resources = yaml.safe_load((PROMETHEUS_RULE.parent / "kustomization.yaml").read_text())["resources"]
    assert PROMETHEUS_RULE.name in resources


def test_the_monitoring_component_carries_the_rules_as_a_valid_prometheusrule(
        monitored: dict[str, list[Obj]], tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: Debian's `prometheus` package.", pytrace=False)
    rules = yaml.safe_load(RULES.read_text())
    for overlay, objects in monitored.items():
        [rule] = [o for o in objects if o["kind"] == "PrometheusRule"]
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        namespace = next(o["metadata"]["namespace"] for o in objects if o["kind"] == "Deployment")
        assert rule["metadata"]["namespace"] == namespace, overlay
        assert rule["spec"] == rules, overlay
        for group in rule["spec"]["groups"]:
            assert set(group) <= GROUP_FIELDS and group["name"] and group["rules"], group.get("name")
            for each in group["rules"]:
                assert set(each) <= RULE_FIELDS, each
                assert ("record" in each) != ("alert" in each), each
                assert all(isinstance(v, str) for v in {**each.get("labels", {}),
                                                        **each.get("annotations", {})}.values()), each
        spec = tmp_path / f"{overlay}.yml"
        spec.write_text(yaml.safe_dump(rule["spec"]))
        proc = subprocess.run(["promtool", "check", "rules", str(spec)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


if __name__ == "__main__":
    PROMETHEUS_RULE.write_text(prometheus_rule())
    print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
