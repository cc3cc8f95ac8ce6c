"""``static``: instance URLs from the environment (``CATALOG_URL=http://a:8082,http://b:8082``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flotilla.discovery.base import DEFAULT_PORTS, Discovery, Instance


class StaticDiscovery(Discovery):
    def __init__(self, urls: Mapping[str, list[str]]) -> None:
        self._instances = {
            service: [Instance(service, url.rstrip("/"), url.rstrip("/")) for url in found]
            for service, found in urls.items()
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StaticDiscovery:
        """``<SVC>_URL`` for each service; known services default to ``127.0.0.1:<SVC>_PORT``
        (the port ``make run`` gives them; the design's development port when unset)."""
        env = os.environ if environ is None else environ
        urls = {svc: [f"http://127.0.0.1:{env.get(f'{svc.upper()}_PORT') or port}"]
                for svc, port in DEFAULT_PORTS.items()}
        for key, value in env.items():
            if key.endswith("_URL") and value.startswith(("http://", "https://")):
                service = key[: -len("_URL")].lower()
                if service and service.isidentifier():
                    urls[service] = [u.strip() for u in value.split(",") if u.strip()]
        return cls(urls)

    def instances(self, service: str) -> list[Instance]:
        return list(self._instances.get(service, []))
