"""The gateway's settings, from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from flotilla import services_list
from flotilla.auth import AuthSettings
from flotilla.proxies import parse_networks


class GatewaySettings(AuthSettings):
    #: Seconds each route's upstream call may take, retries included (key: first path segment).
    route_timeouts: dict[str, float] = Field(
        default_factory=lambda: {p.strip("/"): t for p, _, t in services_list.ROUTES},
        validation_alias="GATEWAY_ROUTE_TIMEOUTS")
    #: Flask-Limiter strings, per user (or client address when anonymous).
    rate_limit: str = Field("1200/minute", validation_alias="GATEWAY_RATE_LIMIT")
    auth_rate_limit: str = Field("10/minute", validation_alias="GATEWAY_AUTH_RATE_LIMIT")
    #: ``moving-window`` is exact but keeps one entry per counted request (O(limit) memory per
    #: key); ``fixed-window`` is O(1) but lets up to 2N through across a window boundary.
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = Field(
        "moving-window", validation_alias="GATEWAY_RATE_LIMIT_STRATEGY")
    #: Rate-limit counters in Redis (shared by every replica) when set, else in memory.
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    cors_origins: str = Field("", validation_alias="GATEWAY_CORS_ORIGINS")
    #: Host names the gateway answers to (comma-separated); empty: any well-formed one.
    allowed_hosts: str = Field("", validation_alias="GATEWAY_ALLOWED_HOSTS")
    #: Proxies in front of us whose X-Forwarded-* we trust (1 behind our nginx)...
    trusted_proxies: int = Field(0, ge=0, le=5, validation_alias="GATEWAY_TRUSTED_PROXIES")
    #: ...and only when the connecting peer's address is in these (comma-separated addresses or
    #: CIDRs, like nginx's set_real_ip_from); anyone else's forwarded headers are ignored.
    trusted_proxy_addresses: str = Field("127.0.0.1,::1", validation_alias="GATEWAY_TRUSTED_PROXY_ADDRESSES")

    @field_validator("trusted_proxy_addresses")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a bad entry fails at start-up, not per request
        return value
    breaker_failures: int = Field(5, ge=1, validation_alias="GATEWAY_BREAKER_FAILURES")
    breaker_reset_seconds: float = Field(5.0, gt=0, validation_alias="GATEWAY_BREAKER_RESET_SECONDS")
    retry_ratio: float = Field(0.2, ge=0, le=1, validation_alias="GATEWAY_RETRY_RATIO")
    #: bytes of an upstream answer the gateway reads; a longer one is dropped and answered 502
    max_upstream_body_bytes: int = Field(16 * 1024 * 1024, gt=0,
                                         validation_alias="GATEWAY_MAX_UPSTREAM_BODY_BYTES")
    openapi_cache_seconds: float = Field(30.0, ge=0, validation_alias="GATEWAY_OPENAPI_CACHE_SECONDS")
    #: Check bearer tokens at the edge (401 for bad ones); services check them again.
    authenticate: bool = Field(True, validation_alias="GATEWAY_AUTHENTICATE")

    def csv(self, value: str) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()]
