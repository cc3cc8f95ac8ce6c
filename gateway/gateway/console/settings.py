"""Where the console finds each service's worker (its internal ops port)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flotilla import services_list


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    #: ``catalog=http://host:9082,orders=http://host:9083``: exactly these workers. Empty: every
    #: service of services.toml with a worker, at ``<SVC>_WORKER_URL`` or
    #: ``http://127.0.0.1:<SVC>_WORKER_PORT`` (make run's ports by default).
    workers: str = Field("", validation_alias="GATEWAY_CONSOLE_WORKERS")
    #: Otherwise each worker's address from this pattern (``http://{service}-worker:9000`` under
    #: compose), when set; ``<SVC>_WORKER_URL`` still wins for one service.
    worker_url: str = Field("", validation_alias="GATEWAY_CONSOLE_WORKER_URL")
    #: Seconds for each call the console makes to a worker.
    worker_timeout: float = Field(3.0, gt=0, le=30, validation_alias="GATEWAY_CONSOLE_WORKER_TIMEOUT")

    @field_validator("workers")
    @classmethod
    def _pairs(cls, value: str) -> str:
        parse_workers(value)  # a bad entry fails at start-up
        return value

    @field_validator("worker_url")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if value and (not value.startswith(("http://", "https://")) or "{service}" not in value):
            raise ValueError("an http(s) URL with {service} in it, e.g. http://{service}-worker:9000")
        return value

    def worker_urls(self, env: Mapping[str, str] = os.environ) -> dict[str, str]:
        if self.workers.strip():
            return parse_workers(self.workers)
        out = {}
        for service, port in services_list.WORKER_PORTS.items():
            name = service.upper().replace("-", "_")
            url = (env.get(f"{name}_WORKER_URL")
                   or (self.worker_url.replace("{service}", service) if self.worker_url else "")
                   or f"http://127.0.0.1:{env.get(f'{name}_WORKER_PORT', port)}")
            out[service] = url.rstrip("/")
        return out


def parse_workers(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        service, sep, url = entry.partition("=")
        if not sep or not service.strip() or not url.strip().startswith(("http://", "https://")):
            raise ValueError(f"{entry!r} is not <service>=http://host:port")
        out[service.strip()] = url.strip().rstrip("/")
    return out
