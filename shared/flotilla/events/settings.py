"""Event backbone settings, from the environment (shared by every worker)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from flotilla.settings import KitSettings

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
#: ``make run`` writes the broker it started here (its port may be a free one, not 5672).
RUN_ENV = Path("var/run.env")


def default_amqp_url() -> str:
    """``AMQP_URL`` when unset: ``RABBITMQ_PORT``, else ``make run``'s var/run.env, else 5672."""
    port = os.environ.get("RABBITMQ_PORT")
    if not port:
        try:
            lines = RUN_ENV.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            name, _, value = line.partition("=")
            if name.strip() == "AMQP_URL" and value.strip():
                return value.strip()
        return DEFAULT_AMQP_URL
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


class EventSettings(KitSettings):
    amqp_url: str = Field(default_factory=default_amqp_url, validation_alias="AMQP_URL")
    #: Deliveries of one message (first try included) before it is parked in ``<svc>.dlq``.
    max_attempts: int = Field(5, ge=1, le=50, validation_alias="EVENTS_MAX_ATTEMPTS")
    #: Back-off before attempt 2, 3, ... in milliseconds; the last one repeats.
    retry_delays_ms: Annotated[tuple[int, ...], NoDecode] = Field(
        (1000, 10_000, 60_000), validation_alias="EVENTS_RETRY_DELAYS_MS")
    prefetch: int = Field(32, ge=1, le=1000, validation_alias="EVENTS_PREFETCH")
    relay_batch: int = Field(200, ge=1, le=5000, validation_alias="EVENTS_RELAY_BATCH")
    relay_idle_s: float = Field(0.2, gt=0, le=30, validation_alias="EVENTS_RELAY_IDLE_SECONDS")
    confirm_timeout_s: float = Field(10.0, gt=0, validation_alias="EVENTS_CONFIRM_TIMEOUT_SECONDS")
    reconnect_max_s: float = Field(10.0, gt=0, validation_alias="EVENTS_RECONNECT_MAX_SECONDS")
    heartbeat_s: int = Field(30, ge=0, validation_alias="EVENTS_HEARTBEAT_SECONDS")
    retention_hours: float = Field(168, gt=0, validation_alias="EVENTS_RETENTION_HOURS")
    housekeeping_s: float = Field(600, gt=0, validation_alias="EVENTS_HOUSEKEEPING_SECONDS")
    worker_host: str = Field("127.0.0.1", validation_alias="WORKER_HOST")
    worker_port: int = Field(0, ge=0, le=65535, validation_alias="WORKER_PORT")

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("needs one or more positive delays in milliseconds")
        return value

    def delay_before(self, attempt: int) -> int:
        """Milliseconds to wait before delivery number ``attempt`` (2 or more)."""
        return self.retry_delays_ms[min(attempt - 2, len(self.retry_delays_ms) - 1)]
