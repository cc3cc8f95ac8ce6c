"""The one place that knows catalog's HTTP API: product names and prices for order lines.

Calls go through :class:`flotilla.http.ServiceClient` (deadline, budgeted retries of
idempotent reads, a circuit breaker per catalog instance, request id and caller's token
passed on). Failures reach the caller as ``flotilla.http`` exception types:
``UpstreamUnavailable`` (and its ``CircuitOpen``/``UpstreamTimeout``) means "try later".
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import httpx

from flotilla import discovery
from flotilla.http import (
    BreakerRegistry,
    CallPolicy,
    ServiceClient,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamUnavailable,
)
from orders.config import OrdersSettings

SERVICE = "catalog"


@dataclass(frozen=True)
class ProductInfo:
    id: uuid.UUID
    name: str
    price_cents: int
    currency: str


class CatalogClient:
    """Reads products from catalog; lookups for one order run in parallel."""

    def __init__(self, http: ServiceClient, max_parallel: int = 8) -> None:
        self.http = http
        self._pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="catalog-client")

    @classmethod
    def from_settings(cls, settings: OrdersSettings) -> CatalogClient:
        policy = CallPolicy(timeout=settings.catalog_timeout)
        breakers = BreakerRegistry(failure_threshold=settings.catalog_breaker_failures,
                                   reset_timeout=settings.catalog_breaker_reset)
        return cls(ServiceClient(SERVICE, discovery.from_settings(), policy=policy, breakers=breakers))

    def products(self, ids: Sequence[uuid.UUID], *,
                 authorization: str | None = None) -> dict[uuid.UUID, ProductInfo]:
        """The live products among ``ids``; unknown or deleted ones are simply absent.
        ``authorization``: the caller's ``Authorization`` value, sent on as it is.

        Raises ``UpstreamUnavailable`` when catalog cannot answer for every one of them.
        """
        if len(ids) == 1:  # nothing to overlap: no hand-off to the pool and back (most orders)
            only = self._product(ids[0], authorization)
            return {only.id: only} if only is not None else {}
        # Each lookup runs in a copy of this context: the request id goes with it.
        futures = [self._pool.submit(contextvars.copy_context().run, self._product, pid, authorization)
                   for pid in ids]
        found = [f.result() for f in futures]
        return {p.id: p for p in found if p is not None}

    def _product(self, product_id: uuid.UUID, authorization: str | None = None) -> ProductInfo | None:
        try:
            # ``forward``: the same deadline, retries, breakers and errors as ``get_json``, over
            # urllib3's pools (about half the CPU of an httpx call) unless tracing is on.
            answer = self.http.forward("GET", f"/products/{product_id}",
                                       headers={"Authorization": authorization} if authorization else None)
            body = self.http.json_of(cast(httpx.Response, answer))
        except UpstreamNotFound:
            return None
        except UpstreamStatusError as exc:  # a 4xx we do not expect: catalog and we disagree
            raise UpstreamUnavailable(SERVICE, f"answered {exc.status} for product {product_id}") from exc
        try:
            return ProductInfo(id=uuid.UUID(body["id"]), name=str(body["name"]),
                               price_cents=int(body["price_cents"]), currency=str(body["currency"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(SERVICE, f"unexpected product document: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False)
