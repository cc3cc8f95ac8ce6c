"""The Kubernetes manifests, checked offline: each overlay renders with ``kubectl kustomize``,
every object matches the Kubernetes JSON schema (kubernetes-validate ships them), and what
is rendered holds together: probes, resources, non-root pods, pinned images, Services,
HPAs and PDBs that find their pods, references that resolve."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from .conftest import SERVICES, Obj, Rendered, containers, pod_spec

#: The oldest Kubernetes we deploy to, and the newest schema the package ships.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: Made outside the prod overlay by the cluster's operators (see its kustomization.yaml).
EXTERNAL_SECRETS = {"users-database", "catalog-database", "orders-database", "flotilla-amqp",
                    "gateway-redis"}
FLOTILLA_IMAGES = {f"flotilla/{name}" for name in (*SERVICES, "gateway", "edge")}


def test_every_object_matches_the_kubernetes_schema(rendered: Rendered) -> None:
    errors = []
    for version in K8S_VERSIONS:
        for obj in rendered.objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                errors.append(f"{version} {obj['kind']}/{obj['metadata']['name']} at {where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_each_service_has_api_worker_service_and_autoscaler(rendered: Rendered) -> None:
    for svc in SERVICES:
        api = rendered.named("Deployment", f"{svc}-api")
        rendered.named("Deployment", f"{svc}-worker")
        # DISCOVERY=dns resolves the service's own name, on port 80 (flotilla.discovery.dns).
        assert [p["port"] for p in rendered.named("Service", svc)["spec"]["ports"]] == [80]
        hpa = rendered.named("HorizontalPodAutoscaler", f"{svc}-api")
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        env = {e["name"] for e in containers(api)[0].get("env", [])}
        assert {f"{svc.upper()}_DATABASE_URL", "AMQP_URL"} <= env
    # Behind edge + gateway, as under make run (Procfile): the client's address is 2 hops back.
    assert _env_of(rendered.named("Deployment", "users-api"))["USERS_TRUSTED_PROXIES"] == "2"
    assert _env_of(rendered.named("Deployment", "gateway"))["GATEWAY_TRUSTED_PROXIES"] == "1"
    for name in ("gateway", "edge"):
        rendered.named("Deployment", name)
        rendered.named("Service", name)
        rendered.named("HorizontalPodAutoscaler", name)


def _env_of(deployment: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in containers(deployment)[0].get("env", []) if "value" in e}


def test_settings_come_from_the_config_map(rendered: Rendered) -> None:
    config = next(c for c in rendered.of_kind("ConfigMap")
                  if c["metadata"]["name"].startswith("flotilla-config"))["data"]
    assert config["DISCOVERY"] == "dns"
    assert config["JWT_JWKS_URL"] == "http://users/auth/jwks.json"
    edge = next(c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].startswith("edge-config"))
    assert edge["data"]["GATEWAY_ADDR"] == "gateway:80"


def test_deployments_have_resources_probes_and_run_as_non_root(rendered: Rendered) -> None:
    problems = []
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        pod = pod_spec(deployment).get("securityContext", {})
        for c in containers(deployment):
            where = f"{name}/{c['name']}"
            for kind in ("requests", "limits"):
                if set(c.get("resources", {}).get(kind, {})) != {"cpu", "memory"}:
                    problems.append(f"{where}: resources.{kind} needs cpu and memory")
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problems.append(f"{where}: no {probe}")
            sc = {**pod, **c.get("securityContext", {})}
            if sc.get("runAsNonRoot") is not True or not sc.get("runAsUser"):
                problems.append(f"{where}: needs runAsNonRoot and a non-zero runAsUser")
            if sc.get("allowPrivilegeEscalation") is not False or "ALL" not in sc.get(
                    "capabilities", {}).get("drop", []):
                problems.append(f"{where}: must drop ALL capabilities, no privilege escalation")
            if _image_name(c["image"], rendered) in FLOTILLA_IMAGES and not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{where}: Flotilla containers run with a read-only root filesystem")
    assert not problems, "\n".join(problems)


def test_flotilla_health_endpoints_are_the_probes(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        if not (name.endswith(("-api", "-worker")) or name == "gateway"):
            continue
        c = containers(deployment)[0]
        assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert c["livenessProbe"]["httpGet"]["path"] == "/health/live", name


def _image_name(image: str, rendered: Rendered) -> str:
    """The base name (flotilla/catalog) an overlay's image was made from, else the image."""
    for entry in rendered.kustomization.get("images", []):
        if image.rsplit(":", 1)[0] == entry.get("newName", entry["name"]):
            return str(entry["name"])
    return image


def test_images_are_pinned_by_the_overlay(rendered: Rendered) -> None:
    wanted = {e["name"]: f"{e.get('newName', e['name'])}:{e['newTag']}"
              for e in rendered.kustomization["images"]}
    assert set(wanted) == FLOTILLA_IMAGES
    used = set()
    for deployment in rendered.of_kind("Deployment"):
        for c in containers(deployment):
            image = c["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag and tag != "latest", f"{image} is not pinned"
            base = _image_name(image, rendered)
            if base in FLOTILLA_IMAGES:
                assert image == wanted[base]
                used.add(base)
    assert used == FLOTILLA_IMAGES


def _matches(selector: dict[str, str], deployments: list[Obj]) -> list[Obj]:
    return [d for d in deployments
            if selector and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]


def test_services_select_the_pods_of_one_deployment(rendered: Rendered) -> None:
    deployments = rendered.of_kind("Deployment")
    for service in rendered.of_kind("Service"):
        found = _matches(service["spec"]["selector"], deployments)
        assert len(found) == 1, f"Service {service['metadata']['name']} selects {len(found)} Deployments"
        ports = {p.get("name") for c in containers(found[0]) for p in c.get("ports", [])}
        ports |= {p["containerPort"] for c in containers(found[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{service['metadata']['name']}: no port {port['targetPort']}"


def test_autoscalers_and_disruption_budgets_find_their_deployment(rendered: Rendered) -> None:
    deployments = rendered.of_kind("Deployment")
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in rendered.names("Deployment")
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for pdb in rendered.of_kind("PodDisruptionBudget"):
        assert len(_matches(pdb["spec"]["selector"]["matchLabels"], deployments)) == 1
    flotilla = {d["metadata"]["name"] for d in deployments
                if d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "flotilla"}
    assert {p["metadata"]["name"] for p in rendered.of_kind("PodDisruptionBudget")} == flotilla


def _references(obj: Any, kind: str) -> set[str]:
    """Names under every configMapRef/configMapKeyRef/configMap (or secret...) in ``obj``."""
    found: set[str] = set()
    keys = {"ConfigMap": ("configMapRef", "configMapKeyRef", "configMap"),
            "Secret": ("secretRef", "secretKeyRef", "secret")}[kind]
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in keys and isinstance(value, dict):
                found.add(value.get("name") or value.get("secretName"))
            found |= _references(value, kind)
    elif isinstance(obj, list):
        for value in obj:
            found |= _references(value, kind)
    return found


def test_config_maps_and_secrets_referenced_exist(rendered: Rendered) -> None:
    deployments = rendered.of_kind("Deployment")
    assert _references(deployments, "ConfigMap") <= rendered.names("ConfigMap")
    secrets = _references(deployments, "Secret")
    if rendered.overlay == "prod":  # infrastructure and its credentials are external
        assert not rendered.of_kind("Secret")
        assert secrets == EXTERNAL_SECRETS
    else:
        assert secrets <= rendered.names("Secret")


@pytest.mark.parametrize(("overlay", "replicas"), [("dev", 1), ("prod", 3)])
def test_overlay_replicas(overlays: dict[str, Rendered], overlay: str, replicas: int) -> None:
    rendered = overlays[overlay]
    assert rendered.named("Deployment", "catalog-api")["spec"]["replicas"] == replicas
    assert rendered.named("HorizontalPodAutoscaler", "catalog-api")["spec"]["minReplicas"] == replicas
