"""``dns``: Kubernetes Service names.

``catalog`` resolves to the Service's ClusterIP (kube-proxy balances), or to every
ready pod's address for a headless Service; each address is one instance. The port
is ``<SVC>_SERVICE_PORT`` (which Kubernetes sets for Services in the namespace),
else 80.
"""

from __future__ import annotations

import os
import socket

from flotilla.discovery.base import CachedDiscovery, Instance
from flotilla.discovery.settings import DiscoverySettings


class DnsDiscovery(CachedDiscovery):
    def __init__(self, settings: DiscoverySettings) -> None:
        super().__init__(settings.cache_seconds)
        self.domain = settings.dns_domain.strip(".")

    def hostname(self, service: str) -> str:
        return f"{service}.{self.domain}" if self.domain else service

    def lookup(self, service: str) -> list[Instance]:
        port = int(os.environ.get(f"{service.upper()}_SERVICE_PORT", "80"))
        infos = socket.getaddrinfo(self.hostname(service), port, type=socket.SOCK_STREAM)
        found: list[Instance] = []
        for family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            host = f"[{address}]" if family == socket.AF_INET6 else address
            url = f"http://{host}:{sockaddr[1]!s}"
            if all(i.url != url for i in found):
                found.append(Instance(service, url, url))
        return found
