"""OWASP API2:2023 Broken Authentication, on the running platform: login throttling, revocation
(logout, an erased account, a reused refresh token) and every kind of bad token, refused with
401 problem+json both at the edge and on the service's own port."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from flotilla.testing import wait_for
from flotilla.testing.tokens import TokenMinter, hmac_with_public_key, tampered, unsigned_token

from .conftest import PASSWORD, Stack

pytestmark = pytest.mark.slow


def _int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _public_pem(stack: Stack) -> tuple[str, bytes]:
    key = stack.http.get(f"{stack.api}/auth/jwks.json", timeout=10).json()["keys"][0]
    public = RSAPublicNumbers(_int(key["e"]), _int(key["n"])).public_key()
    return key["kid"], public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _claims(stack: Stack) -> dict:
    payload = stack.customer.token.split(".")[1]
    import json

    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def bad_authorizations(stack: Stack) -> dict[str, str]:
    kid, pem = _public_pem(stack)
    claims = _claims(stack)
    good = stack.customer.token
    stranger = TokenMinter(issuer=claims.get("iss", "flotilla"), audience=claims.get("aud", "flotilla"))
    return {
        "garbage": "Bearer not-a-jwt",
        "empty bearer": "Bearer ",
        "no scheme": good,
        "basic": "Basic " + base64.b64encode(b"admin:admin").decode(),
        "alg none": "Bearer " + unsigned_token({**claims, "roles": ["admin"]}, kid),
        "alg none, no signature dot": "Bearer " + unsigned_token(claims, kid).rstrip("."),
        "HS256 keyed with the public key": "Bearer " + hmac_with_public_key(claims, kid, pem),
        "tampered roles": "Bearer " + tampered(good),
        "tampered subject": "Bearer " + tampered(good, sub=stack.other.id),
        "tampered expiry": "Bearer " + tampered(good, exp=int(time.time()) + 10**6),
        "signature stripped": "Bearer " + good.rsplit(".", 1)[0] + ".",
        "another issuer's key, same kid": "Bearer "
        + stranger.sign({**claims, "exp": int(time.time()) + 600}, headers={"kid": kid}),
        "expired (another key)": "Bearer " + stranger.mint(claims["sub"], ttl=-60),
        "two tokens": f"Bearer {good} {good}",
    }


@pytest.mark.parametrize("where", ["edge", "service port"])
def test_every_bad_token_is_a_401_problem(stack, where):
    base = stack.api if where == "edge" else stack.url("orders")
    wrong = []
    for name, authorization in bad_authorizations(stack).items():
        response = stack.http.get(f"{base}/orders", headers={"Authorization": authorization}, timeout=10)
        if response.status_code != 401 or not response.headers["Content-Type"].startswith(
            "application/problem+json"
        ):
            wrong.append(f"{name}: {response.status_code}")
        elif "Bearer" not in response.headers.get("WWW-Authenticate", ""):
            wrong.append(f"{name}: no WWW-Authenticate")
    assert stack.http.get(f"{base}/orders", headers=stack.customer.auth, timeout=10).status_code == 200
    assert wrong == []


def test_a_token_is_never_taken_from_the_query_string_or_a_cookie(stack):
    token = stack.customer.token
    for kwargs in (
        {"params": {"access_token": token}},
        {"cookies": {"access_token": token}},
        {"headers": {"X-Access-Token": token}},
    ):
        assert stack.http.get(f"{stack.api}/orders", timeout=10, **kwargs).status_code == 401


def test_failed_logins_are_throttled(stack):
    account = stack.register("throttled")
    statuses = [
        stack.http.post(
            f"{stack.api}/auth/login", timeout=10, json={"email": account.email, "password": f"wrong {n}"}
        ).status_code
        for n in range(6)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    blocked = stack.http.post(
        f"{stack.api}/auth/login", json={"email": account.email, "password": PASSWORD}, timeout=10
    )
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0  # even the right password
    assert blocked.headers["Content-Type"].startswith("application/problem+json")
    unknown = stack.http.post(
        f"{stack.api}/auth/login",
        timeout=10,
        json={"email": f"nobody-{uuid.uuid4().hex[:6]}@example.com", "password": "x" * 12},
    )
    assert unknown.status_code == 401 and "email or password" in unknown.json()["detail"]  # no enumeration


def test_logout_and_a_reused_refresh_token_end_the_session_everywhere(stack):
    first = stack.register("session")
    refreshed = stack.http.post(
        f"{stack.api}/auth/refresh", json={"refresh_token": first.refresh_token}, timeout=10
    )
    assert refreshed.status_code == 200
    reused = stack.http.post(
        f"{stack.api}/auth/refresh", json={"refresh_token": first.refresh_token}, timeout=10
    )
    assert reused.status_code == 401  # reuse detected: the whole family ends
    for base in (stack.api, stack.url("orders")):
        wait_for(
            lambda base=base: (
                stack.http.get(f"{base}/orders", headers=first.auth, timeout=10).status_code == 401
            ),
            timeout=10,
            interval=0.05,
            what="the reused session's access token refused",
        )
    second = stack.login(first.email)
    assert (
        stack.http.post(
            f"{stack.api}/auth/logout",
            headers=second.auth,
            timeout=10,
            json={"refresh_token": second.refresh_token},
        ).status_code
        == 204
    )
    for base in (stack.api, stack.url("orders"), stack.url("users")):
        path = "/users/me" if base == stack.url("users") else "/orders"
        wait_for(
            lambda base=base, path=path: (
                stack.http.get(f"{base}{path}", headers=second.auth, timeout=10).status_code == 401
            ),
            timeout=10,
            interval=0.05,
            what="the logged-out access token refused",
        )


def test_an_erased_accounts_token_is_refused_everywhere(stack):
    dead = stack.deleted
    for base, path in (
        (stack.api, "/orders"),
        (stack.url("orders"), "/orders"),
        (stack.url("users"), "/users/me"),
        (stack.api, f"/orders/{dead.order}"),
    ):
        assert stack.http.get(base + path, headers=dead.auth, timeout=10).status_code == 401, base + path
    again = stack.http.post(
        f"{stack.api}/auth/login", json={"email": dead.email, "password": PASSWORD}, timeout=10
    )
    assert again.status_code == 401
