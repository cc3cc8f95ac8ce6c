"""The API gateway: one public API (``/api/v1``) in front of users, catalog and orders.

Thin on purpose: a route table, and the cross-cutting work every public call needs
(edge checks, authentication, rate limits, timeouts, retries, breakers, load
balancing, request ids and trace context, CORS, security headers). No business rules.

Before-request steps, in order: request id (kit) -> edge checks -> authentication ->
rate limit; then the route: forward, or the one composed endpoint.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Response, request
from flask_cors import CORS
from flask_openapi3 import OpenAPI

from flotilla import discovery as discovery_backends
from flotilla import proxies
from flotilla.app import create_service_app
from flotilla.auth import KeySource
from flotilla.discovery import Discovery
from flotilla.http import BreakerRegistry, CallPolicy, RetryBudget, ServiceClient, handlers, make_http_client
from flotilla.settings import load_settings
from gateway import authn, compose, console, docs, edge, limits, proxy, routes, state, upstreams
from gateway.config import GatewaySettings
from gateway.headers import add_security_headers

EDGE_CHECKED = frozenset({"proxy", "order_expanded"})


def build_clients(settings: GatewaySettings, discovery: Discovery) -> dict[str, ServiceClient]:
    """One client per upstream service, sharing one connection pool; breakers are per instance."""
    http = make_http_client(max_connections=200, keepalive=50)
    breakers = BreakerRegistry(settings.breaker_failures, settings.breaker_reset_seconds)
    policy = CallPolicy(timeout=5.0, attempts=3, max_body=settings.max_upstream_body_bytes)
    return {service: ServiceClient(service, discovery, policy=policy, breakers=breakers,
                                   budget=RetryBudget(settings.retry_ratio), http=http)
            for service in routes.services()}


def create_app(settings: GatewaySettings | None = None, discovery: Discovery | None = None,
               key_source: KeySource | None = None) -> OpenAPI:
    settings = settings or load_settings(GatewaySettings)
    discovery = discovery or discovery_backends.from_settings()
    app = create_service_app("gateway", settings, title="Flotilla gateway")
    proxies.install(app, settings.trusted_proxy_addresses, settings.trusted_proxies, forwarded_host=True)
    state.install(app, state.Gateway(
        discovery=discovery, clients=build_clients(settings, discovery),
        pool=ThreadPoolExecutor(max_workers=16, thread_name_prefix="gateway")))
    handlers.init_app(app, timeout_status=504)
    allowed_hosts = [h.lower() for h in settings.csv(settings.allowed_hosts)]

    @app.before_request
    def _edge_checks() -> None:
        endpoint = request.endpoint
        if endpoint in EDGE_CHECKED or endpoint is None:
            edge.check_request(allowed_hosts)

    authn.init_app(app, settings, key_source)  # after the edge checks, before the limiter
    limiter = limits.init_app(app, settings)
    limit = limits.route_limit(app, limiter, settings)
    proxy.init_app(app, limit)
    compose.init_app(app, limit)
    docs.init_app(app, settings.openapi_cache_seconds)
    upstreams.init_app(app)
    console.init_app(app, settings, key_source, limiter=limiter)  # /console (decision 0160)
    origins = settings.csv(settings.cors_origins)
    if origins:
        CORS(app, origins=origins, supports_credentials=False, max_age=600,
             allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                            "If-None-Match", "X-Request-ID", "traceparent"],
             expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "X-RateLimit-Limit",
                             "X-RateLimit-Remaining", "X-RateLimit-Reset"])

    @app.after_request
    def _security(response: Response) -> Response:
        return add_security_headers(response, request._get_current_object())  # type: ignore[attr-defined]

    return app
