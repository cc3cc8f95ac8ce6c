"""Catalog checks users' tokens on its own (JWKS over loopback): writes for admins only,
every forgery refused with 401, and a key rotation picked up without a restart."""

from __future__ import annotations

import time

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from flotilla.db import Database
from flotilla.testing import wait_for
from flotilla.testing.tokens import hmac_with_public_key, sign_rs256, tampered, unsigned_token
from users.repository import signing_keys

PRODUCT = {"name": "E2E kettle", "price_cents": 4900, "currency": "EUR", "stock": 3}


def _writes(base: str, pid: str) -> list[tuple[str, str, dict | None]]:
    one = f"{base}/products/{pid}"
    return [("POST", f"{base}/products", PRODUCT), ("PATCH", one, {"name": "X"}),
            ("DELETE", one, None), ("POST", f"{one}/stock", {"delta": 1})]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(stack, token: str) -> requests.Response:
    return requests.post(f"{stack.catalog.base_url}/products", json=PRODUCT, headers=_bearer(token),
                         timeout=10)


def test_writes_are_refused_to_anonymous_and_customers_and_allowed_to_admins(stack):
    admin = stack.admin()["access_token"]
    created = _create(stack, admin)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    customer = stack.login(**{k: stack.register()[k] for k in ("email", "password")})["access_token"]
    for method, url, body in _writes(stack.catalog.base_url, pid):
        anonymous = requests.request(method, url, json=body, timeout=10)
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        as_customer = requests.request(method, url, json=body, headers=_bearer(customer), timeout=10)
        assert as_customer.status_code == 403, (method, url)
    writes = _writes(stack.catalog.base_url, pid)
    for (method, url, body), status in zip([writes[0], writes[1], writes[3], writes[2]],
                                           [201, 200, 200, 204], strict=True):
        response = requests.request(method, url, json=body, headers=_bearer(admin), timeout=10)
        assert response.status_code == status, (method, url, response.text)


def _users_key(stack) -> tuple[str, object]:
    db = Database(stack.users_env["USERS_DATABASE_URL"])
    try:
        with db.engine.connect() as conn:
            row = conn.execute(select(signing_keys.c.kid, signing_keys.c.private_pem)
                               .where(signing_keys.c.retired_at.is_(None))
                               .order_by(signing_keys.c.created_at.desc())).first()
    finally:
        db.dispose()
    return row.kid, serialization.load_pem_private_key(row.private_pem.encode(), password=None)


def test_every_forged_or_mismatched_token_is_401(stack):
    admin = stack.admin()["access_token"]
    claims = jwt.decode(admin, options={"verify_signature": False})
    kid, key = _users_key(stack)  # the real signing key: only the named flaw is wrong
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined]
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    customer = stack.login(**{k: stack.register()[k] for k in ("email", "password")})["access_token"]
    forgeries = {
        "alg none": unsigned_token(claims, kid),
        "HS256 keyed with the RSA public key": hmac_with_public_key(claims, kid, public_pem),
        "expired": sign_rs256({**claims, "iat": now - 3600, "exp": now - 600}, key, kid),
        "wrong aud": sign_rs256({**claims, "aud": "another-audience"}, key, kid),
        "wrong iss": sign_rs256({**claims, "iss": "https://issuer.invalid"}, key, kid),
        "no exp": sign_rs256({k: v for k, v in claims.items() if k != "exp"}, key, kid),
        "tampered signature": admin[:-6] + ("AAAAAA" if not admin.endswith("AAAAAA") else "BBBBBB"),
        "customer promoted to admin": tampered(customer, roles=["admin"]),
        "unknown kid": sign_rs256(claims, key, "no-such-kid"),
    }
    assert _create(stack, admin).status_code == 201  # the genuine one passes
    for name, token in forgeries.items():
        response = _create(stack, token)
        assert response.status_code == 401, name
        assert response.headers["Content-Type"] == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"], name


def test_a_rotated_key_is_trusted_without_a_restart(stack):
    before = stack.admin()["access_token"]
    assert _create(stack, before).status_code == 201
    stack.cli("rotate-keys")
    after = stack.admin()["access_token"]
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    # Catalog re-fetches the key set for the new kid (at most once a second here).
    wait_for(lambda: _create(stack, after).status_code == 201, timeout=10,
             what="catalog to trust the new key")
    assert _create(stack, before).status_code == 201  # the previous key still verifies
