"""Access tokens in, a :class:`Caller` out: the one place that decides whether a JWT is good."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from flotilla.auth.keys import KeySource, UnknownKey

#: The algorithms we sign with. Anything else in a header (``none``, ``HS256``...) is refused
#: before a key is even looked up.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256",)
KEY_TYPE_FOR = {"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "EdDSA": "OKP"}
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti")
#: Verified tokens remembered per process: a client sends the same token on every request,
#: and checking it again (parse twice, base64url checks in Python, RSA) was the largest cost
#: of a gateway request after the upstream call (docs/performance.md). An entry lasts until
#: the token's ``exp`` (at most this long) and only while its signing key is still published.
#: Revocation is checked on every request after this (guards.authenticate).
VERIFIED_CACHE_SECONDS = 30.0
VERIFIED_CACHE_SIZE = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or meant for someone else."""


class ExpiredToken(InvalidToken):
    """A good token whose time is up: the client should refresh."""


@dataclass(frozen=True)
class Caller:
    """Who is calling, as a plain value a use case can take."""

    user_id: uuid.UUID
    roles: frozenset[str] = frozenset()
    email: str | None = None
    token_id: str | None = None
    issued_at: float | None = None  # the token's ``iat`` (epoch seconds)
    session_id: str | None = None  # the token's ``sid``: the login session (refresh family)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenVerifier:
    def __init__(self, keys: KeySource, *, issuer: str, audience: str,
                 algorithms: Sequence[str] = DEFAULT_ALGORITHMS, leeway: float = 30.0) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway
        self._verified: OrderedDict[str, tuple[float, str, Caller]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Caller:
        """A ``Caller`` for a good token; ``InvalidToken`` otherwise.

        ``KeySourceUnavailable`` passes through: that is our outage, not the caller's fault.
        """
        now = time.time()
        with self._lock:
            hit = self._verified.get(token)
        if hit is not None and hit[0] > now and self._key_still_published(hit[1]):
            return hit[2]
        caller, expires, kid = self._verify(token)
        with self._lock:
            self._verified[token] = (min(expires, now + VERIFIED_CACHE_SECONDS), kid, caller)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return caller

    def _key_still_published(self, kid: str) -> bool:
        """A retired signing key ends its tokens at once, cached or not (a dict lookup)."""
        try:
            self.keys.key_for(kid)
        except UnknownKey:
            return False
        return True

    def _verify(self, token: str) -> tuple[Caller, float, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key (kid)")
        try:
            key = self.keys.key_for(kid)
        except UnknownKey:
            raise InvalidToken(f"unknown key {kid!r}") from None
        if key.key_type != KEY_TYPE_FOR.get(alg):
            raise InvalidToken("the key does not match the token's algorithm")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True})
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return _caller(claims), float(claims["exp"]), kid


def _caller(claims: dict[str, object]) -> Caller:
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("the subject is not a user id") from None
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("roles must be a list of strings")
    email = claims.get("email")
    iat, sid = claims.get("iat"), claims.get("sid")
    return Caller(user_id=user_id, roles=frozenset(roles),
                  email=email if isinstance(email, str) else None, token_id=str(claims["jti"]),
                  issued_at=float(iat) if isinstance(iat, (int, float)) else None,
                  session_id=sid if isinstance(sid, str) else None)
