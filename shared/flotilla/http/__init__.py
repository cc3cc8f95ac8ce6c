"""Outgoing HTTP between services: ``ServiceClient`` with timeouts, retries within a
budget, a circuit breaker per instance and request ids passed on.

Usage in a service::

    client = ServiceClient("catalog", flotilla.discovery.from_settings())
    product = client.get_json(f"/products/{product_id}")   # raises Upstream* errors
    flotilla.http.handlers.init_app(app)                    # UpstreamUnavailable -> 503
"""

from flotilla.http.breaker import BreakerRegistry, CircuitBreaker
from flotilla.http.budget import RetryBudget
from flotilla.http.client import IDEMPOTENT, CallPolicy, ServiceClient, make_http_client
from flotilla.http.errors import (
    CircuitOpen,
    UpstreamError,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "IDEMPOTENT",
    "BreakerRegistry",
    "CallPolicy",
    "CircuitBreaker",
    "CircuitOpen",
    "RetryBudget",
    "ServiceClient",
    "UpstreamError",
    "UpstreamNotFound",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "make_http_client",
]
