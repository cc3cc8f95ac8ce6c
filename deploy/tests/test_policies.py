"""Policy tests: every overlay, with and without the optional components, rendered with
``kubectl kustomize`` and checked by ``policies.py``; and every check shown to fail on a
known-bad manifest (``fixtures/bad/<check>-*.yaml``, objects that replace or join the
rendered prod overlay), naming the object that breaks it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from . import policies
from .conftest import K8S, OVERLAYS, Obj, kubectl

COMPONENTS = ((), ("keda",))
BAD = Path(__file__).parent / "fixtures" / "bad"


def render(overlay: str, components: tuple[str, ...], tmp: Path) -> list[Obj]:
    """The overlay as is, or wrapped in a kustomization that adds the components."""
    target = K8S / "overlays" / overlay
    if components:
        base = yaml.safe_load((target / "kustomization.yaml").read_text())
        wrapper = tmp / f"{overlay}-{'-'.join(components)}"
        wrapper.mkdir()
        (wrapper / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": base["namespace"],
            "resources": [os.path.relpath(target, wrapper)],
            "components": [os.path.relpath(K8S / "components" / c, wrapper) for c in components]}))
        target = wrapper
    proc = subprocess.run([kubectl(), "kustomize", str(target)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {target}:\n{proc.stderr}"
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, tuple[str, ...]], list[Obj]]:
    tmp = tmp_path_factory.mktemp("kustomize")
    return {(o, c): render(o, c, tmp) for o in OVERLAYS for c in COMPONENTS}


VARIANTS = [(o, c) for o in OVERLAYS for c in COMPONENTS]
IDS = [f"{o}{'+' + '+'.join(c) if c else ''}" for o, c in VARIANTS]


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("check", ["schema", "restricted", "service-accounts", "availability",
                                   "network", "migrations"])
def test_policy_holds(renders: dict[tuple[str, tuple[str, ...]], list[Obj]],
                      variant: tuple[str, tuple[str, ...]], check: str) -> None:
    problems = policies.CHECKS[check](renders[variant])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_namespace_enforces_restricted(renders: dict[tuple[str, tuple[str, ...]], list[Obj]],
                                       variant: tuple[str, tuple[str, ...]]) -> None:
    # dev's throwaway PostgreSQL/RabbitMQ/Redis images start as root: dev enforces baseline
    # and warns on restricted; every Flotilla pod passes restricted anyway (check above).
    enforce = "baseline" if variant[0] == "dev" else "restricted"
    problems = policies.check_namespace(renders[variant], enforce)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_every_worker_on_its_queue(
        renders: dict[tuple[str, tuple[str, ...]], list[Obj]], overlay: str) -> None:
    problems = policies.check_keda(renders[(overlay, ("keda",))])
    assert not problems, "\n".join(problems)
    assert not [o for o in renders[(overlay, ())] if o["kind"] == "ScaledObject"]


def _key(obj: Obj) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def with_fixture(objects: list[Obj], fixture: Path) -> list[Obj]:
    """``objects`` with the fixture's objects replacing those of the same kind and name
    (a fixture object with only ``kind``, ``metadata.name`` and ``$delete: true`` removes)."""
    bad = [o for o in yaml.safe_load_all(fixture.read_text()) if o]
    replaced = {_key(o): o for o in bad}
    out = [replaced.pop(_key(o), o) for o in objects]
    out += replaced.values()
    return [o for o in out if not o.get("$delete")]


FIXTURES = sorted(BAD.glob("*.yaml"))


def test_every_check_has_a_bad_fixture() -> None:
    covered = {f.name.split("--")[0] for f in FIXTURES}
    missing = set(policies.CHECKS) - covered
    assert not missing, f"checks without a known-bad fixture: {missing}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_check_fails_on_known_bad_manifest(
        renders: dict[tuple[str, tuple[str, ...]], list[Obj]], fixture: Path) -> None:
    check = fixture.name.split("--")[0]
    head = fixture.read_text().splitlines()[0]
    assert head.startswith("# expect: "), f"{fixture.name}: first line must be '# expect: <text>'"
    expected = head.removeprefix("# expect: ").strip()
    base = renders[("prod", ("keda",) if check == "keda" else ())]
    problems = policies.CHECKS[check](with_fixture(base, fixture))
    assert problems, f"{check} passed {fixture.name}"
    assert any(expected in p for p in problems), (
        f"{fixture.name}: no problem names {expected!r}:\n" + "\n".join(problems))


# --- compose -----------------------------------------------------------------------------

ROOT = K8S.parents[1]


def compose_problems(compose: Obj) -> list[str]:
    """Published ports on loopback only; secrets from the environment (.env), never literal;
    depends_on waits for health where the dependency has a healthcheck."""
    problems = []
    services = compose["services"]
    for name, svc in services.items():
        for port in svc.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"service {name}: port {port} is published on every interface")
        env = svc.get("environment", {})
        for key, value in (env.items() if isinstance(env, dict) else []):
            value = str(value)
            if re.search(r"PASSWORD|_PASS$", key) and not value.startswith("${"):
                problems.append(f"service {name}: {key} is a literal, not from .env")
            if re.search(r"://[^:/@]+:(?!\$\{)[^@]+@", value):
                problems.append(f"service {name}: {key} has a literal password")
        deps = svc.get("depends_on", {})
        for dep, cond in (deps.items() if isinstance(deps, dict) else [(d, {}) for d in deps]):
            if cond.get("condition") not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"service {name}: depends_on {dep} without a health condition")
    return problems


def test_compose_file_policies() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    problems = compose_problems(compose)
    assert not problems, "\n".join(problems)
    used = set(re.findall(r"\$\{([A-Z_]+):-", (ROOT / "docker-compose.yml").read_text()))
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used <= example, f".env.example misses {sorted(used - example)}"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_policies_fail_on_known_bad_file() -> None:
    bad = yaml.safe_load((BAD.parent / "compose-bad.yml").read_text())
    problems = "\n".join(compose_problems(bad))
    for expected in ("service edge: port 8000:8000 is published on every interface",
                     "service postgres: POSTGRES_PASSWORD is a literal",
                     "service api: AMQP_URL has a literal password",
                     "service api: depends_on postgres without a health condition"):
        assert expected in problems, problems
