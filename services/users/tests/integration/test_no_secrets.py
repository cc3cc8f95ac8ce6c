"""No response of any endpoint carries a password or a hash: by schema and in real answers."""

from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import validate

from users.bootstrap import users_of

FORBIDDEN = re.compile(r"pass|hash|secret|private|salt", re.IGNORECASE)


def _properties(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable from ``schema``."""
    names: set[str] = set()
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return names
        seen.add(name)
        return _properties(components[name], components, seen)
    for key, sub in schema.get("properties", {}).items():
        names.add(key)
        names |= _properties(sub, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= _properties(schema[key], components, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            names |= _properties(sub, components, seen)
    return names


def test_no_response_schema_has_a_password_or_hash_field(client):
    doc = client.get("/openapi.json").json
    validate(doc)
    components = doc["components"]["schemas"]
    checked = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    names = _properties(media["schema"], components, set())
                    assert not {n for n in names if FORBIDDEN.search(n)}, (method, path, status, names)
                    checked += 1
    assert checked >= 20
    assert doc["paths"]["/users/me"]["get"]["security"] == [{"bearer": []}]


def _walk_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _walk_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _walk_keys(v)}
    return set()


def test_no_real_response_contains_a_password_or_hash(app, client, register):
    password = "a password nobody should see"
    bodies = []
    user = register(password=password)
    bodies.append(client.post("/auth/register", json={"email": user["email"], "password": password,
                                                      "name": "Dup"}))
    bodies.append(client.post("/auth/register", json={"email": "x@y.org", "password": password[:5],
                                                      "name": "Short"}))
    pair = client.post("/auth/login", json={"email": user["email"], "password": password})
    bodies.append(pair)
    headers = {"Authorization": f"Bearer {pair.json['access_token']}"}
    bodies.append(client.post("/auth/login", json={"email": user["email"], "password": password + "!"}))
    refreshed = client.post("/auth/refresh", json={"refresh_token": pair.json["refresh_token"]})
    bodies += [refreshed, client.get("/auth/jwks.json"), client.get("/users/me", headers=headers),
               client.get(f"/users/{user['id']}", headers=headers), client.get("/users", headers=headers)]
    admin = client.post("/auth/login", json={"email": "root@flotilla.test", "password": "root password 1"})
    bodies += [admin, client.get("/users", headers={"Authorization": f"Bearer {admin.json['access_token']}"})]
    bodies.append(client.post("/auth/logout", json={"refresh_token": refreshed.json["refresh_token"]},
                              headers=headers))
    with users_of(app).uow() as uow:
        stored = [u.password_hash for u in uow.users.page(100, None)]
    bodies.append(client.delete("/users/me", headers=headers))
    assert all(stored)
    for response in bodies:
        text = response.get_data(as_text=True)
        assert password not in text and "$argon2" not in text, response.request.path
        assert not any(h in text for h in stored), response.request.path
        if response.is_json:
            assert not {k for k in _walk_keys(response.json) if FORBIDDEN.search(k)}, response.request.path
