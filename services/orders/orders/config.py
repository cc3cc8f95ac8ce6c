"""Orders' settings, from the environment."""

from __future__ import annotations

from pydantic import Field

from flotilla.auth import AuthSettings
from flotilla.settings import sqlite_url


class OrdersSettings(AuthSettings):
    database_url: str = Field(default_factory=lambda: sqlite_url("orders"),
                              validation_alias="ORDERS_DATABASE_URL")
    #: Whole-call deadline (retries included) for a read from catalog while placing an order.
    catalog_timeout: float = Field(2.0, gt=0, le=30, validation_alias="ORDERS_CATALOG_TIMEOUT")
    #: Consecutive failures that open catalog's circuit breaker, and how long it stays open.
    catalog_breaker_failures: int = Field(5, ge=1, validation_alias="ORDERS_CATALOG_BREAKER_FAILURES")
    catalog_breaker_reset: float = Field(5.0, gt=0, validation_alias="ORDERS_CATALOG_BREAKER_RESET")


class SweeperSettings(OrdersSettings):
    """The worker's pending-timeout sweeper."""

    #: An order still ``pending`` this long after it was placed is cancelled.
    pending_timeout: float = Field(600.0, gt=0, validation_alias="ORDERS_PENDING_TIMEOUT_SECONDS")
    #: How often the sweeper looks, and how many orders it cancels per transaction.
    sweep_interval: float = Field(5.0, gt=0, validation_alias="ORDERS_SWEEP_INTERVAL_SECONDS")
    sweep_batch: int = Field(100, ge=1, le=10_000, validation_alias="ORDERS_SWEEP_BATCH")
    #: An Idempotency-Key is honoured for at least this long after its order was placed, then
    #: purged by the sweeper (a retry with it afterwards places a new order).
    idempotency_window: float = Field(86_400.0, gt=0, validation_alias="ORDERS_IDEMPOTENCY_WINDOW_SECONDS")
