"""Token settings every service that checks callers shares (``JWT_*``)."""

from __future__ import annotations

from pydantic import Field

from flotilla.settings import KitSettings

DEFAULT_ISSUER = "flotilla-users"
DEFAULT_AUDIENCE = "flotilla"


class AuthSettings(KitSettings):
    """A service that checks bearer tokens subclasses this instead of ``KitSettings``."""

    jwt_issuer: str = Field(DEFAULT_ISSUER, min_length=1, validation_alias="JWT_ISSUER")
    jwt_audience: str = Field(DEFAULT_AUDIENCE, min_length=1, validation_alias="JWT_AUDIENCE")
    jwt_jwks_url: str = Field("http://127.0.0.1:8081/auth/jwks.json", validation_alias="JWT_JWKS_URL")
    #: Lifetime of an access token; the users service signs, everyone else only reads it.
    jwt_access_ttl: int = Field(900, gt=0, le=86_400, validation_alias="JWT_ACCESS_TTL")
    #: Clock skew tolerated on ``exp``/``iat``/``nbf``.
    jwt_leeway: int = Field(30, ge=0, le=300, validation_alias="JWT_LEEWAY")
    #: How long a fetched key set is trusted before it is fetched again.
    jwt_jwks_cache_seconds: int = Field(300, gt=0, validation_alias="JWT_JWKS_CACHE_SECONDS")
    #: At most one re-fetch per this many seconds for tokens naming an unknown ``kid``.
    jwt_jwks_refetch_interval: float = Field(5.0, ge=0, validation_alias="JWT_JWKS_REFETCH_INTERVAL")
    jwt_jwks_timeout: float = Field(2.0, gt=0, validation_alias="JWT_JWKS_TIMEOUT")
    #: users' list of revoked identities (default: beside the JWKS), polled this often by each
    #: process that verifies tokens with keys fetched over HTTP (0: never).
    jwt_revocations_url: str = Field("", validation_alias="JWT_REVOCATIONS_URL")
    jwt_revocations_interval: float = Field(1.0, ge=0, le=60, validation_alias="JWT_REVOCATIONS_INTERVAL")
