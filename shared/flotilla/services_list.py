"""The platform's services, generated from services.toml by `make generate`: do not edit."""

from __future__ import annotations

PORTS: dict[str, int] = {
    'users': 8081,
    'catalog': 8082,
    'orders': 8083,
}

WORKER_PORTS: dict[str, int] = {
    'users': 9081,
    'catalog': 9082,
    'orders': 9083,
}

#: (public prefix under /api/v1, service, gateway timeout in seconds)
ROUTES: tuple[tuple[str, str, float], ...] = (
    ('/auth', 'users', 5.0),
    ('/users', 'users', 5.0),
    ('/products', 'catalog', 3.0),
    ('/orders', 'orders', 10.0),
)

DATABASES: dict[str, str] = {
    'users': 'users',
    'catalog': 'catalog',
    'orders': 'orders',
}
