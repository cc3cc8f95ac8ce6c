"""The route table: which public path goes to which upstream. Nothing else is ever contacted."""

from __future__ import annotations

from dataclasses import dataclass

PUBLIC_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    prefix: str  # the upstream path prefix, also the public one under /api/v1
    service: str
    timeout_key: str


ROUTES: tuple[Route, ...] = (
    Route("/auth", "users", "auth"),
    Route("/users", "users", "users"),
    Route("/products", "catalog", "products"),
    Route("/orders", "orders", "orders"),
)

#: Anonymous endpoints that attract credential stuffing: a stricter rate limit.
STRICT_PATHS = frozenset({"/auth/login", "/auth/register"})


def match(path: str) -> Route | None:
    """The route for an upstream path (``/products/...``), or None."""
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
