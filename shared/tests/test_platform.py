"""The one list of services: checked, and every file made from it up to date."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flotilla import platform, services_list
from flotilla.discovery.base import DEFAULT_PORTS
from flotilla.discovery.static import StaticDiscovery


def test_every_generated_file_is_up_to_date() -> None:
    assert platform.stale() == [], "run `make generate` and commit the result"


def test_the_runtime_list_matches_the_file() -> None:
    services = platform.load()
    assert list(services_list.PORTS) == [s.name for s in services]
    assert {n: p for n, p in DEFAULT_PORTS.items() if n != "gateway"} == services_list.PORTS
    found = StaticDiscovery.from_environment({}).instances("orders")
    assert [i.url for i in found] == [f"http://127.0.0.1:{services_list.PORTS['orders']}"]


BLOCK_FILES = sorted({key.partition("#")[0] for key in platform.BLOCKS})
MIGRATION_JOBS = "deploy/k8s/components/migrations/jobs.yaml"


def _copy(tmp_path: Path) -> Path:
    kustomizations = [f"deploy/k8s/base/{name}/kustomization.yaml" for name in services_list.PORTS]
    for path in [platform.LIST_FILE, *BLOCK_FILES, *platform.rendered(), *kustomizations]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(platform.ROOT / path, tmp_path / path)
    return tmp_path


def test_a_new_entry_reaches_every_block_and_leaves_the_rest(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = {p: (root / p).read_text() for p in BLOCK_FILES}
    with (root / platform.LIST_FILE).open("a") as f:
        f.write('\n[services.payments]\nport = 8084\nworker_port = 9084\nroutes = { "/payments" = 4.0 }\n')
    (root / "shared/flotilla").mkdir(parents=True, exist_ok=True)
    changed = platform.generate(root)
    assert set(changed) == set(BLOCK_FILES) | set(platform.WHOLE) | {
        f"deploy/k8s/base/payments/{f}.yaml" for f in ("api", "worker", "kustomization")} | {
        "services/payments/Dockerfile", MIGRATION_JOBS, platform.LEAST_PRIVILEGE, platform.SCALED_OBJECTS}
    assert platform.stale(root) == []
    assert "payments-worker: env WORKER_PORT=${PAYMENTS_WORKER_PORT:-9084} payments-worker" in (
        root / "Procfile").read_text()
    assert "  - payments\n" in (root / "deploy/k8s/base/kustomization.yaml").read_text()
    api = (root / "deploy/k8s/base/payments/api.yaml").read_text()
    assert "image: flotilla/payments" in api and "containerPort: 8084" in api
    assert "PAYMENTS_DATABASE_URL" in api
    jobs = list(yaml.safe_load_all((root / MIGRATION_JOBS).read_text()))
    assert {(o["kind"], o["metadata"]["name"]) for o in jobs} >= {
        ("Job", "payments-migrate"), ("ServiceAccount", "payments-migrate"),
        ("NetworkPolicy", "payments-migrate")}
    component = root / "deploy/k8s/components/migrations/kustomization.yaml"
    assert "name: payments-worker}" in component.read_text()
    assert 'databases="users catalog orders payments"' in (
        root / "deploy/postgres/init-databases.sh").read_text()
    assert "('/payments', 'payments', 4.0)" in (root / "shared/flotilla/services_list.py").read_text()
    for path, text in before.items():  # outside the block nothing moved
        after = (root / path).read_text()
        head = text.split(platform.BEGIN)[0]
        tail = text.split(platform.END)[-1]
        assert after.startswith(head) and after.endswith(tail), path


@pytest.mark.parametrize("entry, message", [
    ('[services.x-y]\nport = 8090\n', "service name"),
    ('[services.pay]\nport = 8081\n', "ports clash"),
    ('[services.pay]\nport = 8090\nroutes = { "/orders" = 1.0 }\n', "prefixes"),
    ('[services.pay]\nport = 8090\ndatabase = "users"\n', "databases clash"),
    ('[services.pay]\nworker_port = 9090\n', "pay"),
    ('[services.pay]\nport = 8090\ncalls = ["nobody"]\n', "calls"),
    ('[services.pay]\nport = 8090\ncalls = ["pay"]\n', "calls"),
])
def test_an_impossible_list_is_refused(tmp_path: Path, entry: str, message: str) -> None:
    root = _copy(tmp_path)
    with (root / platform.LIST_FILE).open("a") as f:
        f.write("\n" + entry)
    with pytest.raises(platform.ListError, match=message):
        platform.load(root)


def test_a_file_without_its_block_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "Procfile").write_text("web: true\n")
    with pytest.raises(platform.ListError, match="Procfile"):
        platform.generate(root)


def test_add_appends_an_entry_with_free_ports_and_regenerates(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert platform.main(["add", "payments", "--root", str(root)]) == 0
    added = platform.load(root)[-1]
    assert (added.name, added.port, added.worker_port) == ("payments", 8084, 9084)
    assert added.routes == {"/payments": 5.0}
    assert platform.stale(root) == []
    assert "payments:" in (root / "Procfile").read_text()
    listed = (root / platform.LIST_FILE).read_text()
    assert platform.main(["add", "payments", "--root", str(root)]) == 2  # already there
    assert platform.main(["add", "refunds", "--port", "8081", "--root", str(root)]) == 2  # a clash
    assert (root / platform.LIST_FILE).read_text() == listed


def test_add_without_a_worker_writes_an_api_only(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    shutil.copytree(platform.ROOT / platform.SERVICE_TEMPLATE, root / platform.SERVICE_TEMPLATE)
    assert platform.main(["add", "refunds", "--no-worker", "--root", str(root)]) == 0
    added = platform.load(root)[-1]
    assert (added.name, added.worker_port) == ("refunds", None)
    assert "[services.refunds]" in (root / platform.LIST_FILE).read_text()
    assert "worker_port" not in (root / platform.LIST_FILE).read_text().split("[services.refunds]")[1]
    package = root / "services/refunds"
    assert (package / "refunds/api.py").exists() and not (package / "refunds/worker.py").exists()
    assert "refunds-worker" not in (package / "pyproject.toml").read_text()
    assert "@worker@" not in (package / "README.md").read_text()
    procfile = (root / "Procfile").read_text()
    assert "\nrefunds: env PORT=" in procfile and "refunds-worker" not in procfile
    assert (root / "deploy/k8s/base/refunds/api.yaml").exists()
    assert not (root / "deploy/k8s/base/refunds/worker.yaml").exists()
    assert "worker.yaml" not in (root / "deploy/k8s/base/refunds/kustomization.yaml").read_text()
    component = (root / "deploy/k8s/components/migrations/kustomization.yaml").read_text()
    assert "name: refunds-api}" in component and "refunds-worker" not in component
    assert "refunds-worker" not in (root / "docker-compose.yml").read_text()
    assert "refunds-worker" not in (root / "deploy/prometheus/prometheus.yml").read_text()
    assert platform.stale(root) == []


def test_payments_in_a_copy_of_the_repository_reaches_every_overlay_and_the_gateway(tmp_path: Path) -> None:
    """Done when: `make new-service NAME=payments` in a clean copy touches only the list and the
    generated files; every overlay renders payments, the gateway routes /payments to it."""
    if not shutil.which("kubectl") or not shutil.which("git"):
        pytest.skip("kubectl and git are needed")
    copy = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=platform.ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source = platform.ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(copy)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], check=True)

    assert platform.main(["add", "payments", "--root", str(copy)]) == 0

    status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    changed = {line[3:] for line in status}
    allowed = {platform.LIST_FILE, *BLOCK_FILES, *platform.WHOLE, MIGRATION_JOBS, platform.LEAST_PRIVILEGE,
               platform.SCALED_OBJECTS}
    base = {f"deploy/k8s/base/payments/{f}.yaml" for f in ("api", "worker", "kustomization")}
    assert {p for p in changed - allowed if not p.startswith("services/payments/")} <= base
    dockerfile = (copy / "services/payments/Dockerfile").read_text()
    assert "COPY services/payments services/payments" in dockerfile and "EXPOSE 8084 9000" in dockerfile
    assert platform.LIST_FILE in changed and "deploy/k8s/base/payments/api.yaml" in changed
    package = copy / "services/payments"
    for name in ("pyproject.toml", "payments/__init__.py", "payments/repository.py",
                 "migrations/versions/0001_items.py", "tests/unit/test_use_cases.py"):
        assert f"services/payments/{name}" in changed, name
    assert 'payments-worker = "payments.worker:main"' in (package / "pyproject.toml").read_text()
    assert "@name@" not in "".join(p.read_text() for p in package.rglob("*.py"))
    unit = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(package / "tests")], cwd=copy, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(package)}, timeout=60)
    # unit (in memory) and integration (SQLite; 401 without a token, 201 with an admin's)
    assert unit.returncode == 0 and " passed" in unit.stdout, unit.stdout + unit.stderr
    assert platform.main(["add", "payments", "--root", str(copy)]) == 2  # its package exists already
    assert platform.main(["add", "refunds", "--no-worker", "--root", str(copy)]) == 0  # an api only
    for overlay in ("dev", "prod"):
        # the overlay as is, and wrapped with the optional keda component
        wrapper = copy / "deploy/k8s" / f"{overlay}-keda"
        wrapper.mkdir()
        (wrapper / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [f"../overlays/{overlay}"], "components": ["../components/keda"]}))
        targets = (copy / "deploy/k8s/overlays" / overlay, wrapper)
        kustomize = [subprocess.run(["kubectl", "kustomize", str(target)], capture_output=True, text=True,
                                    check=True).stdout for target in targets]
        objects = [o for text in kustomize for o in yaml.safe_load_all(text) if o]
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert {("Deployment", "payments-api"), ("Deployment", "payments-worker"), ("Service", "payments"),
                ("HorizontalPodAutoscaler", "payments-api"), ("Job", "payments-migrate"),
                ("ServiceAccount", "payments-api"), ("ServiceAccount", "payments-worker"),
                ("NetworkPolicy", "payments-api"), ("NetworkPolicy", "payments-worker"),
                ("ScaledObject", "payments-worker")} <= names, overlay
        assert {("Deployment", "refunds-api"), ("ServiceAccount", "refunds-api"),
                ("NetworkPolicy", "refunds-api")} <= names, overlay
        assert not [n for _, n in names if n.startswith("refunds-worker")], overlay
        if overlay == "dev":
            assert ("Secret", "payments-database") in {(k, n.rsplit("-", 1)[0]) for k, n in names}
        by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        for role in ("api", "worker"):
            pod = by_name["Deployment", f"payments-{role}"]["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == f"payments-{role}"
            assert pod["automountServiceAccountToken"] is False
        # the gateway reaches the new apis; users' api admits payments' (which checks tokens on users' JWKS)
        gateway = by_name["NetworkPolicy", "gateway"]["spec"]["egress"][0]
        assert {"payments", "refunds"} <= {s["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                                           for s in gateway["to"]}
        assert {8084, 8085} <= {p["port"] for p in gateway["ports"]}
        admitted = {s["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    for rule in by_name["NetworkPolicy", "users-api"]["spec"]["ingress"] for s in rule["from"]
                    if "podSelector" in s and "namespaceSelector" not in s}
        assert {"gateway", "catalog", "orders", "payments", "refunds"} == admitted
        egress = by_name["NetworkPolicy", "payments-api"]["spec"]["egress"]
        assert {"protocol": "TCP", "port": 8081} in [p for r in egress if "to" in r for p in r["ports"]]

    compose = yaml.safe_load((copy / "docker-compose.yml").read_text())["services"]
    assert compose["payments-api"]["environment"]["PAYMENTS_DATABASE_URL"].endswith("@postgres:5432/payments")
    assert compose["payments-worker"]["command"] == ["worker"]
    assert "payments-api" in compose["gateway"]["depends_on"]

    # The gateway's route table, built from the copy's generated list.
    probe = ("from gateway.routes import match; from gateway.config import GatewaySettings; "
             "r = match('/payments/7'); print(r.service, GatewaySettings().route_timeouts[r.timeout_key])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": f"{copy / 'shared'}{os.pathsep}{copy / 'gateway'}"})
    assert out.stdout.split() == ["payments", "5.0"]
