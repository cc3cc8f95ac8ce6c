"""OWASP API9:2023 Improper Inventory Management: every route a process serves is documented
(or is one of the few operational routes, which the edge refuses), every documented route is
served, and the gateway's merged document lists exactly the public routes it proxies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .operations import OPERATIONAL, operations
from .test_api5_function_level_authorization import served

pytestmark = pytest.mark.slow

FLASK_STATIC = "/static/{filename}"


def test_every_served_route_is_documented_and_every_documented_route_is_served(stack, apps):
    for name in ("users", "catalog", "orders"):
        documented = {op.key for op in operations({name: stack.document(name)})}
        routes = served(apps[name])
        operational = OPERATIONAL | {FLASK_STATIC}
        undocumented = {r for r in routes - documented if r.split(" ", 1)[1] not in operational}
        assert undocumented == set(), f"{name} serves routes its document does not list"
        assert documented - routes == set(), f"{name} documents routes it does not serve"
        static = apps[name].static_folder  # Flask's default rule; no folder, so it serves nothing
        assert static is None or not Path(static).exists(), f"{name} has a static folder: files are served"
        assert stack.http.get(f"{stack.url(name)}/static/openapi.json", timeout=10).status_code == 404


def test_the_edge_serves_only_the_merged_document(stack):
    merged = stack.gateway_document()
    public = {f"{m.upper()} /api/v1{op.path}" for op in operations(
        {name: stack.document(name) for name in ("users", "catalog", "orders")}) if op.public
        for m in (op.method,)}
    listed = {f"{m.upper()} {path}" for path, item in merged["paths"].items() for m in item
              if m in ("get", "post", "put", "patch", "delete")}
    assert listed == public
    assert not any("revocations" in p or "/health" in p or "/metrics" in p for p in merged["paths"])


@pytest.mark.parametrize("path", ["/api/v1/auth/revocations.json", "/api/v1/health/ready", "/api/v1/metrics",
                                  "/api/v1/stock/audit", "/api/v1/static/x", "/api/v1/openapi.json/x",
                                  "/metrics", "/health/ready", "/health", "/console/", "/static/x",
                                  "/api/v2/products", "/api/v1/products/../metrics", "/api/v1/admin"])
def test_undocumented_paths_are_not_served_at_the_edge(stack, path):
    response = stack.http.get(stack.edge.base_url + path, headers=stack.admin.auth, timeout=10)
    assert response.status_code == 404, response.text[:200]
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_undocumented_methods_on_documented_paths_are_refused(stack):
    merged = stack.gateway_document()
    wrong = []
    for path, item in merged["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", stack.product["id"], path)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() in item:
                continue
            response = stack.http.request(method, stack.edge.base_url + concrete, headers=stack.admin.auth,
                                          json={}, timeout=10)
            # 404/405; a 503 problem (an upstream busy on a loaded machine) is not serving it either
            problem = response.headers["Content-Type"].startswith("application/problem+json")
            if response.status_code not in (404, 405, 503) or not problem:
                wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []
