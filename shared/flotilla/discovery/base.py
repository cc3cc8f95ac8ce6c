"""The discovery interface and a TTL cache the dynamic backends share."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from flotilla import services_list

log = logging.getLogger(__name__)

#: The development ports of the platform's services (services.toml) and of the gateway.
DEFAULT_PORTS = {**services_list.PORTS, "gateway": 8080}


class DiscoveryError(RuntimeError):
    """The registry could not be asked and nothing is cached."""


@dataclass(frozen=True)
class Instance:
    """One running copy of a service; ``url`` is its base URL (no trailing slash)."""

    service: str
    id: str
    url: str


class Discovery(ABC):
    @abstractmethod
    def instances(self, service: str) -> list[Instance]:
        """The instances to call now (healthy ones, where the backend knows health)."""


class CachedDiscovery(Discovery):
    """Answers from a per-service cache for ``ttl`` seconds; on a lookup error, the
    last known answer is kept (stale beats nothing), else :class:`DiscoveryError`."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, list[Instance]]] = {}
        self._lock = threading.Lock()

    @abstractmethod
    def lookup(self, service: str) -> list[Instance]:
        """Ask the registry (uncached)."""

    def instances(self, service: str) -> list[Instance]:
        now = time.monotonic()
        cached = self._cache.get(service)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        with self._lock:
            cached = self._cache.get(service)
            if cached and now - cached[0] < self.ttl:
                return cached[1]
            try:
                found = self.lookup(service)
            except Exception as exc:
                if cached:
                    log.warning("discovery of %s failed (%s); using the last known instances",
                                service, exc)
                    return cached[1]
                raise DiscoveryError(f"cannot discover {service}: {exc}") from exc
            self._cache[service] = (time.monotonic(), found)
            return found
