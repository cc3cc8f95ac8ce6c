"""Who is calling: access tokens checked against the users service's published keys.

Every service verifies tokens itself (no call to users per request): keys come from
a :class:`KeySource` (the JWKS over HTTP in production, a static set in tests),
:class:`TokenVerifier` turns a token into a :class:`Caller`, and the guards in
:mod:`flotilla.auth.guards` put that caller where a view can hand it to a use case.
"""

from flotilla.auth.guards import (
    SECURITY,
    SECURITY_SCHEMES,
    authenticate,
    current_caller,
    init_app,
    require_role,
    require_user,
)
from flotilla.auth.keys import (
    JwksHttpKeySource,
    KeySource,
    KeySourceUnavailable,
    StaticKeySource,
    UnknownKey,
    parse_jwks,
    public_jwk,
)
from flotilla.auth.revocation import RevocationList
from flotilla.auth.settings import AuthSettings
from flotilla.auth.tokens import Caller, ExpiredToken, InvalidToken, TokenVerifier

__all__ = [
    "SECURITY",
    "SECURITY_SCHEMES",
    "AuthSettings",
    "Caller",
    "ExpiredToken",
    "InvalidToken",
    "JwksHttpKeySource",
    "KeySource",
    "KeySourceUnavailable",
    "RevocationList",
    "StaticKeySource",
    "TokenVerifier",
    "UnknownKey",
    "authenticate",
    "current_caller",
    "init_app",
    "parse_jwks",
    "public_jwk",
    "require_role",
    "require_user",
]
