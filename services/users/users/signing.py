"""Signing keys and the tokens signed with them.

Keys live in the users database (private halves included: they never leave this
service). The newest published key signs; every published key verifies. Refresh tokens
are random secrets of which only a SHA-256 is stored: they carry 256 bits of entropy,
so a slow hash would add nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK

from flotilla.auth import KeySource, UnknownKey, public_jwk
from users.model import RefreshToken, SigningKey, User

if TYPE_CHECKING:
    from flotilla.unit_of_work import UnitOfWorkFactory
    from users.repository import UnitOfWork

ALGORITHM = "RS256"  # docs/decisions/0011-users-jwt-rs256.md
RSA_KEY_BITS = 2048


class NoSigningKey(Exception):
    """No published key: run ``users rotate-keys`` (start-up normally makes one)."""


def generate_signing_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    kid = f"{time.strftime('%Y%m%d')}-{uuid.uuid4().hex[:12]}"
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(kid=kid, algorithm=ALGORITHM, private_pem=pem,
                      public_jwk=public_jwk(private.public_key(), kid, ALGORITHM))


def hash_refresh_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105


class TokenIssuer:
    """Signs access tokens with the current key and records refresh tokens in a unit of work."""

    def __init__(self, issuer: str, audience: str, access_ttl: int, refresh_ttl: int) -> None:
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = timedelta(seconds=refresh_ttl)
        self._private: dict[str, Any] = {}  # kid -> parsed private key (parsing RSA is slow)
        self._lock = threading.Lock()

    def issue(self, uow: Any, user: User, family_id: uuid.UUID | None = None) -> TokenPair:
        published = uow.signing_keys.published()
        if not published:
            raise NoSigningKey("no signing key is published")
        key = published[0]
        now = int(time.time())
        family = family_id or uuid.uuid4()  # the session: what a logout or a reuse revokes
        claims = {"iss": self.issuer, "aud": self.audience, "sub": str(user.id), "iat": now,
                  "nbf": now, "exp": now + self.access_ttl, "jti": uuid.uuid4().hex,
                  "sid": str(family), "roles": list(user.roles), "email": user.email}
        access = jwt.encode(claims, self._private_key(key), algorithm=key.algorithm,
                            headers={"kid": key.kid})
        secret = secrets.token_urlsafe(32)
        uow.refresh_tokens.add(RefreshToken.issue(user.id, hash_refresh_token(secret),
                                                  self.refresh_ttl, family))
        return TokenPair(access_token=access, expires_in=self.access_ttl, refresh_token=secret)

    def _private_key(self, key: SigningKey) -> Any:
        with self._lock:
            if key.kid not in self._private:
                self._private[key.kid] = serialization.load_pem_private_key(
                    key.private_pem.encode(), password=None)
            return self._private[key.kid]


class DatabaseKeySource(KeySource):
    """The users service checks its own tokens against its own table, not over HTTP."""

    def __init__(self, uow: UnitOfWorkFactory[UnitOfWork]) -> None:
        self._uow = uow
        self._parsed: dict[str, PyJWK] = {}

    def key_for(self, kid: str) -> PyJWK:
        with self._uow() as uow:
            key = uow.signing_keys.get_published(kid)  # a retired key stops verifying at once
        if key is None:
            raise UnknownKey(kid)
        if kid not in self._parsed:
            self._parsed[kid] = PyJWK.from_dict(key.public_jwk)
        return self._parsed[kid]
