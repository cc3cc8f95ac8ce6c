"""Discovery settings, from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DiscoverySettings(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    discovery: Literal["static", "consul", "dns"] = Field("static", validation_alias="DISCOVERY")
    consul_http_addr: str = Field("127.0.0.1:8500", validation_alias="CONSUL_HTTP_ADDR")
    #: How long a list of instances is reused before the registry is asked again.
    cache_seconds: float = Field(2.0, ge=0, validation_alias="DISCOVERY_CACHE_SECONDS")
    #: Consul health check of each registered instance.
    check_interval: str = Field("2s", validation_alias="CONSUL_CHECK_INTERVAL")
    check_timeout: str = Field("2s", validation_alias="CONSUL_CHECK_TIMEOUT")
    deregister_after: str = Field("1m", validation_alias="CONSUL_DEREGISTER_AFTER")
    #: DNS: appended to a service name, e.g. ``flotilla.svc.cluster.local``.
    dns_domain: str = Field("", validation_alias="DISCOVERY_DNS_DOMAIN")
