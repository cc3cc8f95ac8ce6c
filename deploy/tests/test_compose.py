"""docker-compose.yml, deploy/prometheus and the Dockerfiles, checked offline: the file
parses, every image it builds has a Dockerfile (and stage) that exists, third-party images
are pinned, the wiring (depends_on, environment, scrape targets) names real things."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flotilla import services_list

from .conftest import ROOT, SERVICES

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILES = {name: ROOT / "services" / name / "Dockerfile" for name in SERVICES}
DOCKERFILES["gateway"] = ROOT / "gateway" / "Dockerfile"
EXPECTED = {"postgres", "rabbitmq", "consul", "redis", "prometheus", "gateway", "edge",
            *(f"{svc}-{role}" for svc in SERVICES for role in ("api", "worker"))}
OPT_IN = {"grafana", "jaeger"}  # profile "observability"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and "services" in data
    return data["services"]


def test_every_component_and_piece_of_infrastructure_is_there(compose: dict[str, Any]) -> None:
    assert set(compose) == EXPECTED | OPT_IN
    assert compose["consul"]["image"].startswith("hashicorp/consul:")
    assert {name for name, svc in compose.items() if svc.get("profiles")} == OPT_IN


def test_grafana_is_provisioned_with_prometheus_jaeger_and_every_dashboard(compose: dict[str, Any]) -> None:
    mounts = {m.split(":")[1]: ROOT / m.split(":")[0] for m in compose["grafana"]["volumes"]}
    provisioning = mounts["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources" / "flotilla.yml").read_text())["datasources"]
    assert {s["type"]: s["url"] for s in sources} == {"prometheus": "http://prometheus:9090",
                                                    "jaeger": "http://jaeger:16686"}
    provider = yaml.safe_load((provisioning / "dashboards" / "flotilla.yml").read_text())["providers"][0]
    dashboards = mounts[provider["options"]["path"]]
    assert sorted(dashboards.glob("*.json")), "no dashboards to provision"
    assert compose["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_builds_name_dockerfiles_and_stages_that_exist(compose: dict[str, Any]) -> None:
    built = {name: svc["build"] for name, svc in compose.items() if "build" in svc}
    assert set(built) == EXPECTED - {"postgres", "rabbitmq", "consul", "redis", "prometheus"}
    for name, build in built.items():
        dockerfile = (ROOT / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        if "target" in build:
            assert re.search(rf"^FROM .* AS {build['target']}$", dockerfile.read_text(), re.M), name


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose.items():
        if "build" in svc:
            continue
        image, _, tag = svc["image"].rpartition(":")
        assert image and tag and tag != "latest" and "/" not in tag, f"{name}: {svc['image']} is not pinned"


def test_dependencies_and_mounts_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose.items():
        for dep, rule in svc.get("depends_on", {}).items():
            assert dep in compose, f"{name} depends on unknown {dep}"
            assert rule["condition"] in {"service_started", "service_healthy"}
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in compose[dep], f"{dep} has no healthcheck for {name} to wait on"
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_services_are_configured_as_the_design_says(compose: dict[str, Any]) -> None:
    for svc in SERVICES:
        for role in ("api", "worker"):
            env = compose[f"{svc}-{role}"]["environment"]
            assert env[f"{svc.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{svc}")
            assert env["AMQP_URL"].startswith("amqp://") and "@rabbitmq:5672" in env["AMQP_URL"]
            assert env["DISCOVERY"] == "consul" and env["CONSUL_HTTP_ADDR"] == "consul:8500"
            assert env["JWT_JWKS_URL"] == "http://users-api:8081/auth/jwks.json"
            assert compose[f"{svc}-{role}"]["command"] == [role]
    assert compose["users-api"]["environment"]["USERS_TRUSTED_PROXIES"] == "2"  # edge + gateway
    assert compose["gateway"]["environment"]["GATEWAY_TRUSTED_PROXIES"] == "1"  # the edge
    init = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
    assert f'databases="{" ".join(services_list.DATABASES.values())}"' in init


def test_prometheus_scrapes_every_api_and_worker(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    scraped = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                scraped[name] = sd["port"]
    assert set(scraped) == {n for n in EXPECTED if n.endswith(("-api", "-worker"))} | {"gateway"}
    for name, port in scraped.items():
        image = "gateway" if name == "gateway" else name.split("-")[0]
        wanted = 9000 if name.endswith("-worker") else _env(DOCKERFILES[image], "PORT")
        assert port == wanted, f"{name} is scraped on {port}, listens on {wanted}"


def _env(dockerfile: Path, name: str) -> int:
    """The last ``NAME=value`` an ENV line of ``dockerfile`` sets (the final stage's)."""
    values = re.findall(rf"\b{name}=(\d+)", dockerfile.read_text())
    return int(values[-1])


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_dockerfile_conventions(component: str) -> None:
    text = DOCKERFILES[component].read_text()
    assert text.index("ARG BASE_IMAGE=python:3.11-slim") < text.index("FROM ")
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3, "multi-stage: python, build, runtime"
    assert "-c requirements/constraints.txt" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert re.search(r"^USER 10001:10001$", text, re.M), "runs as a non-root, numeric user"
    assert "/usr/local/bin/flotilla-healthcheck" in text and "HEALTHCHECK" in text
    assert 'ENTRYPOINT ["flotilla-entrypoint"]' in text
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (ROOT / source).exists(), f"{component}: COPY {source} does not exist"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "**/__pycache__", "**/*.egg-info"} <= set(ignored)
