"""Self-registration of a gunicorn-served instance (``DISCOVERY=consul`` only).

``flotilla.gunicorn_conf`` calls :func:`on_ready` when the master has bound its
socket and :func:`on_exit` when it stops. The service name is ``SERVICE_NAME`` or
the module of the app (``catalog:create_app()`` -> ``catalog``); the address
registered is ``SERVICE_ADDRESS`` or the bound host.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flotilla.discovery.settings import DiscoverySettings

log = logging.getLogger(__name__)

_registration: Any = None


def service_name(app_uri: str | None) -> str:
    name = os.environ.get("SERVICE_NAME")
    if name:
        return name
    return (app_uri or "app").split(":", 1)[0].split(".", 1)[0]


def on_ready(server: Any) -> None:
    global _registration
    settings = DiscoverySettings()
    if settings.discovery != "consul":
        return
    from flotilla.discovery.consul import ConsulRegistration

    host, port = server.address[0][:2] if server.address else ("127.0.0.1", 0)
    address = os.environ.get("SERVICE_ADDRESS") or host
    if address in ("0.0.0.0", "::"):  # noqa: S104 (a bind-all address cannot be called back)
        address = "127.0.0.1"
    registration = ConsulRegistration(settings, service_name(getattr(server.app, "app_uri", None)),
                                      address, int(port))
    try:
        registration.register()
        _registration = registration
    except Exception as exc:  # the service still serves; the operator sees why it is not found
        log.error("could not register with consul at %s: %s", settings.consul_http_addr, exc)


def on_exit(server: Any) -> None:
    global _registration
    if _registration is not None:
        _registration.deregister()
        _registration = None
