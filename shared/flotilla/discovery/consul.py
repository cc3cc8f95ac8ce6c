"""``consul``: healthy instances from a Consul agent (py-consul), and self-registration.

Reads use ``/v1/health/service/<name>?passing`` (only instances whose every check
passes), cached for ``DISCOVERY_CACHE_SECONDS``. Each service instance registers
itself with an HTTP check on ``/health/ready`` and deregisters on shutdown.
"""

from __future__ import annotations

import logging
import urllib.parse

import consul

from flotilla.discovery.base import CachedDiscovery, Instance
from flotilla.discovery.settings import DiscoverySettings

log = logging.getLogger(__name__)


def make_client(settings: DiscoverySettings) -> consul.Consul:
    addr = settings.consul_http_addr
    parsed = urllib.parse.urlparse(addr if "//" in addr else "//" + addr)
    return consul.Consul(host=parsed.hostname or "127.0.0.1", port=parsed.port or 8500,
                         scheme=parsed.scheme or "http")


class ConsulDiscovery(CachedDiscovery):
    def __init__(self, settings: DiscoverySettings, client: consul.Consul | None = None) -> None:
        super().__init__(settings.cache_seconds)
        self.client = client or make_client(settings)

    def lookup(self, service: str) -> list[Instance]:
        _index, entries = self.client.health.service(service, passing=True)
        found = []
        for entry in entries:
            svc = entry["Service"]
            host = svc.get("Address") or entry["Node"]["Address"]
            if ":" in host:
                host = f"[{host}]"
            found.append(Instance(service, svc["ID"], f"http://{host}:{svc['Port']}"))
        return found


class ConsulRegistration:
    """One instance's registration: ``register()`` on start, ``deregister()`` on shutdown."""

    def __init__(self, settings: DiscoverySettings, service: str, address: str, port: int,
                 client: consul.Consul | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.service = service
        self.address = address
        self.port = port
        self.service_id = f"{service}-{address}-{port}"

    def register(self) -> str:
        check = consul.Check.http(f"http://{self.address}:{self.port}/health/ready",
                                  interval=self.settings.check_interval,
                                  timeout=self.settings.check_timeout,
                                  deregister=self.settings.deregister_after)
        self.client.agent.service.register(self.service, service_id=self.service_id,
                                           address=self.address, port=self.port, check=check)
        log.info("registered %s in consul as %s", self.service, self.service_id)
        return self.service_id

    def deregister(self) -> None:
        try:
            self.client.agent.service.deregister(self.service_id)
            log.info("deregistered %s from consul", self.service_id)
        except Exception as exc:  # shutting down: say so, do not hang or crash the exit
            log.warning("could not deregister %s from consul: %s", self.service_id, exc)
