"""Where the instances of a service are: one interface, three backends.

``DISCOVERY=static`` (default) reads ``<SVC>_URL`` (comma-separated for several
instances), ``consul`` asks a Consul agent for instances whose checks pass
(``CONSUL_HTTP_ADDR``), ``dns`` resolves Kubernetes Service names. Build one with
:func:`from_settings`; services register themselves with
:mod:`flotilla.discovery.registration` (Consul only).
"""

from __future__ import annotations

from flotilla.discovery.base import Discovery, DiscoveryError, Instance
from flotilla.discovery.settings import DiscoverySettings


def from_settings(settings: DiscoverySettings | None = None) -> Discovery:
    settings = settings or DiscoverySettings()
    if settings.discovery == "consul":
        from flotilla.discovery.consul import ConsulDiscovery

        return ConsulDiscovery(settings)
    if settings.discovery == "dns":
        from flotilla.discovery.dns import DnsDiscovery

        return DnsDiscovery(settings)
    from flotilla.discovery.static import StaticDiscovery

    return StaticDiscovery.from_environment()


__all__ = ["Discovery", "DiscoveryError", "DiscoverySettings", "Instance", "from_settings"]
