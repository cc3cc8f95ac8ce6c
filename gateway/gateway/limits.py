"""Rate limits with Flask-Limiter: per user, or per client address when anonymous.

Moving windows by default (exact: never more than N in any window), counters in
memory (per process: one gunicorn worker's count) or, with ``REDIS_URL``, in Redis,
shared by every worker and every gateway replica. A breach is a 429
problem with ``Retry-After`` and the ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RequestLimit
from prometheus_client import CollectorRegistry, Counter

from flotilla import metrics as kit_metrics
from gateway import memory_storage  # noqa: F401 (registers flotilla-memory://)
from gateway.config import GatewaySettings
from gateway.routes import PUBLIC_PREFIX, STRICT_PATHS

# Process-wide; added to the app's registry (gunicorn's multiprocess files carry it too).
REGISTRY = CollectorRegistry(auto_describe=True)
rate_limited = Counter("flotilla_gateway_rate_limited_total",
                       "Requests refused with 429 by the gateway's own limits (auth or default)",
                       ["service", "limit"], registry=REGISTRY)
for _limit in ("auth", "default"):
    rate_limited.labels(service="gateway", limit=_limit)


def _breached(_: RequestLimit) -> None:
    rate_limited.labels(service="gateway", limit="auth" if _is_strict() else "default").inc()


def rate_key() -> str:
    caller = g.get("flotilla_caller")
    if caller is not None:
        return f"user:{caller.user_id}"
    return f"addr:{request.remote_addr}"


def _is_strict() -> bool:
    return request.path.removeprefix(PUBLIC_PREFIX).rstrip("/") in STRICT_PATHS


def init_app(app: Flask, settings: GatewaySettings) -> Limiter:
    # Flask-Limiter's own headers put Retry-After on every response (even a 200, even over
    # an upstream's own Retry-After): we write them ourselves, Retry-After on 429 only.
    limiter = Limiter(rate_key, app=app, storage_uri=settings.redis_url or "flotilla-memory://",
                      strategy=settings.rate_limit_strategy, key_prefix="flotilla-gateway",
                      headers_enabled=False, swallow_errors=False, on_breach=_breached)
    app.extensions["gateway_limiter"] = limiter
    kit_metrics.registry_of(app).register(rate_limited)

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        current = limiter.current_limit
        if current is None:
            return response
        if "X-RateLimit-Limit" in response.headers or "Retry-After" in response.headers:
            return response  # an upstream's own throttling headers pass through unchanged
        reset_at = current.reset_at
        response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(current.remaining)
        response.headers["X-RateLimit-Reset"] = str(reset_at)
        if response.status_code == 429:
            next_slot = current.window[0]  # when the oldest counted request leaves the window
            response.headers["Retry-After"] = str(max(1, math.ceil(next_slot - time.time())))
        return response

    return limiter


def route_limit(limiter: Limiter, settings: GatewaySettings) -> Any:
    """The decorator for proxied views: the strict limit on login/register, else the default."""
    return limiter.limit(lambda: settings.auth_rate_limit if _is_strict() else settings.rate_limit,
                         methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
