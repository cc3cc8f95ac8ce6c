"""Product writes are for admins: 401 without a good token, 403 for anyone else."""

from __future__ import annotations

import uuid

import pytest

PROBLEM = "application/problem+json"


def _writes(pid: str) -> list[tuple[str, str, dict | None]]:
    return [("post", "/products", {"name": "X", "price_cents": 1, "currency": "EUR"}),
            ("patch", f"/products/{pid}", {"name": "Y"}),
            ("delete", f"/products/{pid}", None),
            ("post", f"/products/{pid}/stock", {"delta": 1})]


@pytest.fixture
def pid(make_product) -> str:
    return make_product()["id"]


def test_every_write_without_a_token_is_401_with_a_challenge(anonymous, pid):
    for method, url, body in _writes(pid):
        response = getattr(anonymous, method)(url, json=body)
        assert response.status_code == 401, (method, url)
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_write_by_a_customer_is_403(anonymous, minter, pid):
    headers = minter.bearer(roles=["customer"])
    for method, url, body in _writes(pid):
        response = getattr(anonymous, method)(url, json=body, headers=headers)
        assert response.status_code == 403, (method, url)
        assert response.content_type == PROBLEM
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert anonymous.get(f"/products/{pid}").json["name"] == "Widget"


def test_reads_need_no_token(anonymous, pid):
    assert anonymous.get("/products").status_code == 200
    assert anonymous.get(f"/products/{pid}").status_code == 200


def test_a_malformed_authorization_header_is_401(anonymous):
    for value in ("Basic abc", "Bearer", "Bearer not.a.jwt", f"Bearer {uuid.uuid4()}"):
        response = anonymous.post("/products", json={}, headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.content_type == PROBLEM


def test_openapi_marks_writes_as_bearer_secured(anonymous):
    doc = anonymous.get("/openapi.json").json
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/products"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/products"]["get"]
