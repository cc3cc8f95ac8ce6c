"""OWASP API3:2023 Broken Object Property Level Authorization: mass assignment is refused on
every write schema of every document (each accepts only its documented properties), and no
response schema nor any real answer carries a password, hash or other internal field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Stack
from .operations import Operation, operations, request_for, resolve, walk

pytestmark = pytest.mark.slow

#: Never in an answer. Tokens are allowed where the document says so (login, refresh).
HIDDEN = ("password", "hash", "salt", "secret", "private", "internal", "jti", "sid", "deleted_at",
          "failed_logins", "key_ops_private", "d")
INJECTED: dict[str, Any] = {
    "roles": ["admin"], "role": "admin", "is_admin": True, "user_id": str(uuid.uuid4()),
    "id": str(uuid.uuid4()), "status": "confirmed", "total_cents": 1, "version": 99, "stock": 10**6,
    "created_at": "2000-01-01T00:00:00Z", "password_hash": "x"}


def _documents(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: stack.document(name) for name in ("users", "catalog", "orders")}


def _hidden(name: str) -> bool:
    lowered = name.lower()
    return lowered == "d" or any(word in lowered for word in HIDDEN if word != "d")


def test_no_response_schema_has_a_hidden_field(stack):
    found = []
    for op in operations(_documents(stack)):
        for status, schema in op.response_schemas():
            found += [f"{op.key} {status}: {name}" for name, _ in walk(op.document, schema) if _hidden(name)]
    assert found == []


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_real_answer_has_a_hidden_field(stack):
    s, c = stack, stack.customer
    order = s.place_order(c)
    answers = [s.http.get(f"{s.api}/users/me", headers=c.auth, timeout=10),
               s.http.get(f"{s.api}/users/{c.id}", headers=c.auth, timeout=10),
               s.http.get(f"{s.api}/users?limit=100", headers=s.admin.auth, timeout=10),
               s.http.get(f"{s.api}/orders/{order['id']}?expand=products", headers=c.auth, timeout=10),
               s.http.get(f"{s.api}/orders?limit=100", headers=s.admin.auth, timeout=10),
               s.http.get(f"{s.api}/products?limit=100", timeout=10),
               s.http.get(f"{s.api}/auth/jwks.json", timeout=10),
               s.http.post(f"{s.api}/auth/login", json={"email": c.email, "password": "wrong"}, timeout=10),
               s.http.post(f"{s.api}/auth/register", timeout=10,
                           json={"email": c.email, "password": "correct horse battery", "name": "Dup"})]
    login = s.http.post(f"{s.api}/auth/login", timeout=10,
                        json={"email": c.email, "password": "correct horse battery staple"})
    assert set(login.json()) <= {"access_token", "refresh_token", "token_type", "expires_in"}
    leaks = [f"{r.request.method} {r.url}: {sorted(k for k in _keys(r.json()) if _hidden(k))}"
             for r in answers if any(_hidden(k) for k in _keys(r.json()))]
    assert [r.status_code for r in answers][:7] == [200] * 7
    assert leaks == []
    assert "argon2" not in " ".join(r.text for r in answers)


def _write_ops(stack: Stack) -> list[Operation]:
    return [op for op in operations(_documents(stack)) if op.body_schema() is not None]


def test_every_write_schema_refuses_undocumented_properties(stack):
    """Each write schema is closed (additionalProperties false) and the service refuses a body
    with an extra property (422), for every property an attacker would like to set."""
    ops = _write_ops(stack)
    assert {op.key for op in ops} >= {"POST /auth/register", "POST /products", "PATCH /products/{product_id}",
                                      "POST /orders"}
    open_schemas, accepted = [], []
    for op in ops:
        schema = op.body_schema()
        assert schema is not None
        if resolve(op.document, schema).get("additionalProperties") is not False:
            open_schemas.append(op.key)
        for name, value in INJECTED.items():
            if name in resolve(op.document, schema).get("properties", {}):
                continue  # a documented property: not mass assignment
            account = stack.admin if op.secured else None
            ids = {"product_id": stack.new_product(), "order_id": stack.place_order(stack.customer)["id"]}
            kwargs = request_for(op, ids, account.auth if account else {})
            kwargs["json"] = {**kwargs.get("json", {}), name: value}
            method, path = kwargs.pop("method"), kwargs.pop("path")
            response = stack.http.request(method, stack.url(op.service) + path, timeout=10, **kwargs)
            if response.status_code != 422:
                accepted.append(f"{op.key} + {name}: {response.status_code}")
    assert open_schemas == []
    assert accepted == []


def test_a_registration_cannot_choose_its_roles(stack):
    email = f"mass-{uuid.uuid4().hex[:8]}@example.com"
    response = stack.http.post(f"{stack.api}/auth/register", timeout=10,
                               json={"email": email, "password": "correct horse battery staple", "name": "M",
                                     "roles": ["admin"]})
    assert response.status_code == 422
    login = stack.http.post(f"{stack.api}/auth/login", timeout=10,
                            json={"email": email, "password": "correct horse battery staple"})
    assert login.status_code == 401  # no account was made
