"""The route table: which public path goes to which upstream. Nothing else is ever contacted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flotilla import services_list

PUBLIC_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    prefix: str  # the upstream path prefix, also the public one under /api/v1
    service: str
    timeout_key: str


#: From services.toml (flotilla.services_list); the timeout key is the prefix without its "/".
ROUTES: tuple[Route, ...] = tuple(
    Route(prefix, service, prefix.strip("/")) for prefix, service, _ in services_list.ROUTES)

#: Anonymous endpoints that attract credential stuffing: a stricter rate limit.
STRICT_PATHS = frozenset({"/auth/login", "/auth/register"})


#: Served by a service for the platform's own processes, never through the public edge:
#: users' revocation list names deleted accounts and revoked token ids.
INTERNAL_PATHS = frozenset({"/auth/revocations.json"})


def match(path: str) -> Route | None:
    """The route for an upstream path (``/products/...``), or None (also for internal paths)."""
    if path.rstrip("/") in INTERNAL_PATHS:
        return None
    for route in ROUTES:
        if path == route.prefix or path.startswith(route.prefix + "/"):
            return route
    return None


def services() -> list[str]:
    return sorted({r.service for r in ROUTES})


def public_location(location: str) -> str:
    """An upstream's ``Location: /products/1`` as the client must see it."""
    if location.startswith("/") and not location.startswith("//") and match(location.split("?")[0]):
        return PUBLIC_PREFIX + location
    return location


class MethodTable:
    """Which methods each public path has, from the merged OpenAPI document's path templates
    (``/api/v1/products/{product_id}``). Literal paths win over templates (``/users/me``
    before ``/users/{user_id}``). ``allowed`` is None for a path no document describes."""

    def __init__(self, paths: dict[str, Iterable[str]]) -> None:
        rules = []
        for template, methods in paths.items():
            pattern = re.sub(r"\\\{[^/{}]+\\\}", "[^/]+", re.escape(template))
            upper = {m.upper() for m in methods} & HTTP_METHODS
            if "GET" in upper:
                upper.add("HEAD")
            rules.append(("{" in template, re.compile(f"^{pattern}$"), frozenset(upper | {"OPTIONS"})))
        self._rules = sorted(rules, key=lambda rule: rule[0])

    def allowed(self, path: str) -> frozenset[str] | None:
        for _, pattern, methods in self._rules:
            if pattern.match(path):
                return methods
        return None


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


def allow_header(methods: Iterable[str]) -> str:
    return ", ".join(sorted(methods))
