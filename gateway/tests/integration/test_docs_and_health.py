"""The merged OpenAPI document, Swagger UI from a package, and /health per upstream."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_openapi_merges_the_services_under_the_public_paths(gw):
    doc = gw.get("/openapi.json").json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/api/v1/products", "/api/v1/orders", "/api/v1/users/me"}
    schemas = doc["components"]["schemas"]
    assert {"ProductPage", "Order", "User", "Problem", "OrdersProblem", "UsersProblem"} <= set(schemas)
    ref = doc["paths"]["/api/v1/orders"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ref["schema"]["$ref"] == "#/components/schemas/Order"
    assert "x-flotilla-unavailable" not in doc
    assert {t["name"] for t in doc["tags"]} == {"products", "orders", "users/me"}  # no empty sections


def test_openapi_says_which_services_are_missing(make_gateway):
    doc = make_gateway(urls={"orders": ["http://127.0.0.1:9"]}).get("/openapi.json").json
    assert doc["x-flotilla-unavailable"] == ["orders"]
    assert "/api/v1/products" in doc["paths"]


def test_swagger_ui_is_served_from_the_package(gw):
    page = gw.get("/docs")
    assert page.status_code == 200 and b"swagger-ui-bundle.js" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    bundle = gw.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.data) > 100_000
    assert b"/openapi.json" in gw.get("/docs/docs-init.js").data
    assert gw.get("/docs/..%2f..%2fsecret").status_code in (400, 404)
    assert gw.get("/docs/LICENSE").status_code == 404


def test_the_documents_answer_under_the_public_prefix_too(gw):
    assert gw.get("/api/v1/openapi.json").json == gw.get("/openapi.json").json
    moved = gw.get("/api/v1/docs")
    assert moved.status_code == 308 and moved.headers["Location"] == "/docs"


def test_health_reports_every_upstream(make_gateway, upstreams):
    assert make_gateway().get("/health").json["status"] == "ok"
    gw = make_gateway(urls={"orders": ["http://127.0.0.1:9"]})
    response = gw.get("/health")
    assert response.status_code == 503
    body = response.json["upstreams"]
    assert body["catalog"]["status"] == "up"
    assert body["catalog"]["instances"][0] == {"url": upstreams["catalog"].url, "state": "ready",
                                               "breaker": "closed"}
    assert body["orders"]["status"] == "down"
    assert body["orders"]["instances"][0]["state"].startswith("unreachable")
