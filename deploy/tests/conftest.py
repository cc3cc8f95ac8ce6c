"""Fixtures for the deployment checks: the kustomize overlays, rendered once per session."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from flotilla import services_list

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = tuple(services_list.PORTS)  # services.toml

Obj = dict[str, Any]


@dataclass
class Rendered:
    """What ``kubectl kustomize deploy/k8s/overlays/<overlay>`` produced."""

    overlay: str
    objects: list[Obj]
    kustomization: Obj

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Obj:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert found, f"{self.overlay}: no {kind} named {name}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of_kind(kind)}


def pod_spec(deployment: Obj) -> Obj:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: Obj) -> list[Obj]:
    return list(pod_spec(deployment)["containers"])


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed: deploy/tests render deploy/k8s/overlays/* with "
                    "`kubectl kustomize` (kubectl >= 1.27, built-in kustomize v5). Install kubectl "
                    "from your distribution or Kubernetes' package repository.", pytrace=False)
    return path


def render(overlay: str) -> Rendered:
    directory = K8S / "overlays" / overlay
    proc = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{proc.stderr}", pytrace=False)
    objects = [o for o in yaml.safe_load_all(proc.stdout) if o]
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return Rendered(overlay, objects, kustomization)


@pytest.fixture(scope="session")
def overlays() -> dict[str, Rendered]:
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, overlays: dict[str, Rendered]) -> Rendered:
    return overlays[request.param]
