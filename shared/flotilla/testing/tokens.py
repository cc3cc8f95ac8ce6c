"""Access tokens for other services' tests, signed with a throwaway key.

    minter = TokenMinter()
    app = create_app(settings, key_source=minter.key_source())
    client.post("/products", json=..., headers=minter.bearer(roles=["admin"]))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flotilla.auth.keys import StaticKeySource, public_jwk
from flotilla.auth.settings import DEFAULT_AUDIENCE, DEFAULT_ISSUER


class TokenMinter:
    """An RSA key of its own, a JWKS that publishes it, and tokens it signs."""

    def __init__(self, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE,
                 kid: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = kid or f"test-{uuid.uuid4().hex[:8]}"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.private_key.public_key(), self.kid)]}

    def key_source(self) -> StaticKeySource:
        return StaticKeySource(self.jwks())

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, user_id: uuid.UUID | str | None = None, roles: Iterable[str] = ("customer",),
               *, email: str | None = None, ttl: int = 900, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": str(user_id or uuid.uuid4()),
            "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, "roles": list(roles),
        }
        if email is not None:
            claims["email"] = email
        claims.update(overrides)
        return claims

    def sign(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign exactly ``claims`` (drop or break any of them to test a refusal)."""
        return jwt.encode(dict(claims), self.private_key, algorithm="RS256",
                          headers={"kid": self.kid, **(headers or {})})

    def mint(self, user_id: uuid.UUID | str | None = None, roles: Iterable[str] = ("customer",),
             **claims: Any) -> str:
        return self.sign(self.claims(user_id, roles, **claims))

    def bearer(self, user_id: uuid.UUID | str | None = None, roles: Iterable[str] = ("customer",),
               **claims: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer ..."}`` for a fresh token."""
        return {"Authorization": f"Bearer {self.mint(user_id, roles, **claims)}"}


# Forgeries, for tests that check every one of them is refused.

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(obj: Mapping[str, Any]) -> str:
    return _b64(json.dumps(dict(obj), separators=(",", ":")).encode())


def unsigned_token(claims: Mapping[str, Any], kid: str) -> str:
    """``alg: none``: a header and claims with an empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def hmac_with_public_key(claims: Mapping[str, Any], kid: str, public_pem: bytes) -> str:
    """HS256 keyed with the RSA public key: the classic algorithm-confusion forgery."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def tampered(token: str, **claims: Any) -> str:
    """The same signature over changed claims (default: the admin role added)."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims or {"roles": [*body.get("roles", []), "admin"]})
    return f"{header}.{_segment(body)}.{signature}"


def sign_rs256(claims: Mapping[str, Any], private_key: Any, kid: str) -> str:
    """Sign ``claims`` as given (``private_key``: a key object or PEM) with a chosen kid."""
    return jwt.encode(dict(claims), private_key, algorithm="RS256", headers={"kid": kid})
