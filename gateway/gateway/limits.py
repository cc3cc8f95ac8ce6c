"""Rate limits: per user, or per client address when anonymous.

Flask-Limiter holds the configuration (storage URI, strategy, key prefix, swallow_errors) and
serves the console's own limit. The proxied routes are checked by :class:`RouteLimit`: their
two limits are parsed once, and each request makes one ``hit`` on the limits library's
strategy, instead of Flask-Limiter's per-request resolution (its context, limit manager and a
dozen ``LocalProxy`` lookups per check, about a tenth of a proxied request: decision 0172).

Moving windows by default (exact: never more than N in any window), counters in
memory (per process: one gunicorn worker's count) or, with ``REDIS_URL``, in Redis,
shared by every worker and every gateway replica. A breach is a 429
problem with ``Retry-After`` and the ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from prometheus_client import CollectorRegistry, Counter
from werkzeug.exceptions import TooManyRequests

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
_COUNTED = {name: rate_limited.labels(service="gateway", limit=name) for name in ("auth", "default")}
LIMITED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
#: Where a route's check leaves what the response headers need (flask.g).
CURRENT = "gateway_rate_limit"


def rate_key() -> str:
    caller = g.get("flotilla_caller")
    if caller is not None:
        return f"user:{caller.user_id}"
    return f"addr:{request.remote_addr}"


def is_strict(path: str) -> bool:
    return path.removeprefix(PUBLIC_PREFIX).rstrip("/") in STRICT_PATHS


class Counted:
    """The limit a request was counted against, with its window read once (for the headers)."""

    __slots__ = ("_strategy", "_window", "args", "item")

    def __init__(self, strategy: Any, item: RateLimitItem, args: tuple[str, ...]) -> None:
        self._strategy, self.item, self.args = strategy, item, args
        self._window: tuple[float, int] | None = None

    @property
    def window(self) -> tuple[float, int]:
        if self._window is None:
            self._window = self._strategy.get_window_stats(self.item, *self.args)
        return self._window


class RouteLimit:
    """The decorator for proxied views: the strict limit on login/register, else the default."""

    def __init__(self, limiter: Limiter, settings: GatewaySettings, prefix: str) -> None:
        self.limiter = limiter
        self.endpoints: set[str] = set()  # Flask-Limiter's own hooks are skipped there
        self.prefix = prefix
        self.default = parse(settings.rate_limit)
        self.strict = parse(settings.auth_rate_limit)

    def check(self, endpoint: str) -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # bound once
        if req.method not in LIMITED_METHODS or not self.limiter.enabled:
            return
        strict = is_strict(req.path)
        item = self.strict if strict else self.default
        strategy = self.limiter.limiter
        args = (self.prefix, rate_key(), endpoint)
        allowed = strategy.hit(item, *args)
        g.gateway_rate_limit = Counted(strategy, item, args)
        if not allowed:
            _COUNTED["auth" if strict else "default"].inc()
            raise TooManyRequests(description=str(item))

    def __call__(self, view: Callable[..., Any], endpoint: str) -> Callable[..., Any]:
        """``view`` limited, for the rule named ``endpoint`` (the counters' scope)."""
        self.endpoints.add(endpoint)

        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.check(endpoint)
            return view(*args, **kwargs)

        return limited


def init_app(app: Flask, settings: GatewaySettings) -> Limiter:
    # Flask-Limiter's own headers put Retry-After on every response (even a 200, even over
    # an upstream's own Retry-After): we write them ourselves, Retry-After on 429 only.
    limiter = Limiter(rate_key, app=app, storage_uri=settings.redis_url or "flotilla-memory://",
                      strategy=settings.rate_limit_strategy, key_prefix="flotilla-gateway",
                      headers_enabled=False, swallow_errors=False, on_breach=_console_breached)
    app.extensions["gateway_limiter"] = limiter
    kit_metrics.registry_of(app).register(rate_limited)

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        current = g.get(CURRENT)
        if current is None:
            found = limiter.current_limit  # a Flask-Limiter limit (the console's)
            if found is None:
                return response
            current = Counted(limiter.limiter, found.limit, tuple(found.request_args))
        if "X-RateLimit-Limit" in response.headers or "Retry-After" in response.headers:
            return response  # an upstream's own throttling headers pass through unchanged
        reset_at, remaining = current.window
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(current.item.amount)
        headers["X-RateLimit-Remaining"] = str(remaining)
        headers["X-RateLimit-Reset"] = str(int(reset_at + 1))
        if response.status_code == 429:  # when the oldest counted request leaves the window
            headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
        return response

    return limiter


def _skip_own_hooks(app: Flask, limiter: Limiter, own: set[str]) -> None:
    """Flask-Limiter's before/after/teardown hooks find nothing to do on the routes
    :class:`RouteLimit` checks, at the cost of its per-request resolution: skip them there."""

    def unless_own(hook: Callable[..., Any], passthrough: bool) -> Callable[..., Any]:
        @functools.wraps(hook)
        def hooked(*args: Any) -> Any:
            if request.endpoint in own:
                return args[0] if passthrough else None
            return hook(*args)

        return hooked

    for funcs, passthrough, is_limiters in (
            (app.before_request_funcs, False, lambda f: f == limiter._check_request_limit),
            (app.after_request_funcs, True,
             lambda f: isinstance(f, functools.partial) and f.args == (limiter,)),
            (app.teardown_request_funcs, False,
             lambda f: f == getattr(limiter, "_Limiter__release_context", None))):
        hooks = funcs.get(None, [])
        for n, hook in enumerate(hooks):
            if is_limiters(hook):
                hooks[n] = unless_own(hook, passthrough)


def _console_breached(_: object) -> None:
    _COUNTED["auth" if is_strict(request.path) else "default"].inc()


def route_limit(app: Flask, limiter: Limiter, settings: GatewaySettings) -> RouteLimit:
    limit = RouteLimit(limiter, settings, prefix="flotilla-gateway")
    _skip_own_hooks(app, limiter, limit.endpoints)
    return limit
