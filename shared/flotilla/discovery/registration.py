"""Self-registration of a gunicorn-served instance (``DISCOVERY=consul`` only).

``flotilla.gunicorn_conf`` calls :func:`on_ready` when the master has bound its
socket and :func:`on_exit` when it stops. The service name is ``SERVICE_NAME`` or
the module of the app (``catalog:create_app()`` -> ``catalog``); the address
registered is ``SERVICE_ADDRESS`` or the bound host. A worker registers its health and
metrics server as ``<service>-worker`` (:func:`register_worker`), so that compose's
Prometheus finds it too (deploy/prometheus/compose.yml).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flotilla.discovery.settings import DiscoverySettings

log = logging.getLogger(__name__)

_registration: Any = None


def service_name(app_uri: str | None) -> str:
    name = os.environ.get("SERVICE_NAME")
    if name:
        return name
    return (app_uri or "app").split(":", 1)[0].split(".", 1)[0]


def _register(name: str, host: str, port: int) -> Any:
    """The instance's registration once registered; ``None`` without consul or when it failed."""
    settings = DiscoverySettings()
    if settings.discovery != "consul":
        return None
    from flotilla.discovery.consul import ConsulRegistration

    address = os.environ.get("SERVICE_ADDRESS") or host
    if address in ("0.0.0.0", "::"):  # noqa: S104 (a bind-all address cannot be called back)
        address = "127.0.0.1"
    registration = ConsulRegistration(settings, name, address, int(port))
    try:
        registration.register()
        return registration
    except Exception as exc:  # the service still serves; the operator sees why it is not found
        log.error("could not register with consul at %s: %s", settings.consul_http_addr, exc)
        return None


def on_ready(server: Any) -> None:
    global _registration
    host, port = server.address[0][:2] if server.address else ("127.0.0.1", 0)
    _registration = _register(service_name(getattr(server.app, "app_uri", None)), host, port)


def register_worker(service: str, host: str, port: int) -> Callable[[], None]:
    """Register a worker's health/metrics server as ``<service>-worker``; returns the call
    that deregisters it (a no-op when nothing was registered)."""
    registration = _register(f"{service}-worker", host, port)
    return registration.deregister if registration is not None else lambda: None


def on_exit(server: Any) -> None:
    global _registration
    if _registration is not None:
        _registration.deregister()
        _registration = None
