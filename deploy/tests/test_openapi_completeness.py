"""The OpenAPI documents are complete enough for client generators and for people: every
operation has a summary and a description, every schema an example, every error response
is problem+json, every response names its headers (``X-Request-ID`` always, ``Location``
on 201, ``ETag`` where the route sets it, ``Retry-After`` on 429/503, the gateway's
``X-RateLimit-*``), conditional request headers and ``expand`` are documented, and each
document is valid OpenAPI 3.1. Built offline from the code (no servers)."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway import docs

from . import compat

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    services = {s: compat.current_openapi(s) for s in compat.SERVICES}
    return {**services, "gateway": docs.merge(services, [])}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in compat.METHODS]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.mark.parametrize("name", [*compat.SERVICES, "gateway"])
def test_document_is_complete(documents: dict[str, dict[str, Any]], name: str) -> None:
    doc = documents[name]
    validate(doc)
    problems = []
    for method, path, op in _operations(doc):
        where = f"{name}: {method} {path}"
        if not op.get("summary") or not op.get("description"):
            problems.append(f"{where}: no summary or no description")
        codes = {int(c) for c in op["responses"]}
        if not any(200 <= c < 300 for c in codes):
            problems.append(f"{where}: no success response")
        if 503 not in codes or (op.get("security") and 401 not in codes):
            problems.append(f"{where}: 503 or 401 undocumented")
        if "requestBody" in op and not {400, 413, 415, 422} <= codes:
            problems.append(f"{where}: body errors (400/413/415/422) undocumented")
        for code, response in op["responses"].items():
            headers = {h for h in response.get("headers", {})}
            for header in headers:
                _resolve(doc, response["headers"][header])  # every reference resolves
            wanted = {"X-Request-ID"}
            wanted |= {"Location"} if code == "201" else set()
            wanted |= {"Retry-After"} if code in ("429", "503") else set()
            wanted |= set(docs.RATE_HEADERS) if name == "gateway" else set()
            if not wanted <= headers:
                problems.append(f"{where}: {code} lacks headers {sorted(wanted - headers)}")
            if int(code) >= 400 and list(response.get("content", {})) != [PROBLEM]:
                problems.append(f"{where}: {code} is not problem+json")
    for schema_name, schema in doc["components"]["schemas"].items():
        if "example" not in schema and "examples" not in schema:
            problems.append(f"{name}: schema {schema_name} has no example")
    assert not problems, "\n".join(problems)


def _header_params(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}


def test_conditional_requests_etags_and_expand_are_documented(documents: dict[str, dict[str, Any]]) -> None:
    product = documents["gateway"]["paths"]["/api/v1/products/{product_id}"]
    assert "If-None-Match" in _header_params(product["get"])
    assert {"200", "304"} <= set(product["get"]["responses"])
    assert "ETag" in product["get"]["responses"]["200"]["headers"]
    assert "If-Match" in _header_params(product["patch"]) and "If-Match" in _header_params(product["delete"])
    assert "412" in product["patch"]["responses"]
    assert "ETag" in product["patch"]["responses"]["200"]["headers"]
    order = documents["gateway"]["paths"]["/api/v1/orders/{order_id}"]["get"]
    expand = [p for p in order["parameters"] if p["name"] == "expand"]
    assert expand and expand[0]["schema"]["enum"] == ["products"]
    schema = order["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ExpandedOrder"}
    place = documents["orders"]["paths"]["/orders"]["post"]
    key = [p for p in place["parameters"] if p["name"] == "Idempotency-Key"]
    assert key and key[0]["required"] is True
    assert "Location" in place["responses"]["202"]["headers"]


def test_internal_paths_stay_out_of_the_public_document(documents: dict[str, dict[str, Any]]) -> None:
    assert "/auth/revocations.json" in documents["users"]["paths"]
    assert not [p for p in documents["gateway"]["paths"] if "revocations" in p]
    assert all(p.startswith("/api/v1/") for p in documents["gateway"]["paths"])


def test_examples_validate_against_their_schemas(documents: dict[str, dict[str, Any]]) -> None:
    """An example that its own schema refuses would teach clients the wrong thing."""
    import jsonschema

    doc = documents["gateway"]
    registry_doc = {"components": doc["components"]}
    problems = []
    for name, schema in doc["components"]["schemas"].items():
        example = schema.get("example")
        checked = {**schema, "components": registry_doc["components"]}
        checked.pop("example", None)
        try:
            jsonschema.validate(example, checked, cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as exc:
            problems.append(f"{name}: {exc.message}")
    assert not problems, "\n".join(problems)

