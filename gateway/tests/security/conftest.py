"""One platform for every OWASP API Top 10 (2023) module of this folder, started once per session:
users, catalog, orders and the gateway under gunicorn (SQLite files, the session's RabbitMQ), nginx
in front. ``Stack`` hands out real accounts (a customer, another customer, an admin, a deleted
one) logged in through the edge, and the Flask apps' url maps and OpenAPI documents."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import requests

from flotilla.testing import free_port, wait_for
from flotilla.testing.processes import GunicornProcess
from gateway.nginx import EdgeConfig, NginxProcess

from ..e2e.conftest import _delete_queues, _migrate

PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "security-admin@example.com"
SERVICES = ("users", "catalog", "orders")


@dataclass
class Account:
    email: str
    token: str
    id: str
    refresh_token: str = ""
    order: str = ""  # an order of this account's, when one was placed

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Stack:
    edge: NginxProcess
    servers: dict[str, GunicornProcess]
    env: dict[str, str]
    parts: list[Any] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api(self) -> str:
        return self.edge.base_url + "/api/v1"

    def url(self, service: str) -> str:
        return self.servers[service].base_url

    def register(self, prefix: str = "sec") -> Account:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        created = self.http.post(f"{self.api}/auth/register", timeout=10,
                                 json={"email": email, "password": PASSWORD, "name": "Sec"})
        assert created.status_code == 201, created.text
        return self.login(email)

    def login(self, email: str, password: str = PASSWORD) -> Account:
        answer = self.http.post(f"{self.api}/auth/login", json={"email": email, "password": password},
                                timeout=10)
        assert answer.status_code == 200, answer.text
        token, refresh = answer.json()["access_token"], answer.json().get("refresh_token", "")
        me = self.http.get(f"{self.api}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 200, me.text
        return Account(email, token, me.json()["id"], refresh)

    @cached_property
    def customer(self) -> Account:
        return self.register("customer")

    @cached_property
    def other(self) -> Account:
        return self.register("other")

    @cached_property
    def admin(self) -> Account:
        return self.login(ADMIN_EMAIL)

    @cached_property
    def deleted(self) -> Account:
        """An account with an order, then erased; its (unexpired) access token is kept."""
        account = self.register("deleted")
        account.order = self.place_order(account)["id"]
        assert self.http.delete(f"{self.api}/users/me", headers=account.auth, timeout=10).status_code == 204
        for url in (f"{self.api}/orders", f"{self.url('orders')}/orders", f"{self.url('users')}/users/me"):
            wait_for(lambda url=url: self.http.get(url, headers=account.auth, timeout=10).status_code == 401,
                     timeout=10, interval=0.05, what=f"the erased account's token refused at {url}")
        return account

    def new_product(self) -> str:
        created = self.http.post(f"{self.api}/products", headers=self.admin.auth, timeout=10,
                                 json={"name": f"Sec {uuid.uuid4().hex[:8]}", "price_cents": 500,
                                       "currency": "EUR", "stock": 50})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    @cached_property
    def product(self) -> dict[str, Any]:
        items = self.http.get(f"{self.api}/products?limit=5", timeout=10).json()["items"]
        return max(items, key=lambda p: p["stock"])

    def place_order(self, account: Account) -> dict[str, Any]:
        placed = self.http.post(f"{self.api}/orders", timeout=10,
                                headers={**account.auth, "Idempotency-Key": uuid.uuid4().hex},
                                json={"items": [{"product_id": self.product["id"], "quantity": 1}]})
        assert placed.status_code == 202, placed.text
        return dict(placed.json())

    def document(self, service: str) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url(service)}/openapi.json", timeout=10).json())

    def gateway_document(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.edge.base_url}/openapi.json", timeout=10).json())


def flask_apps(env: dict[str, str]) -> dict[str, Any]:
    """Each service's and the gateway's Flask app, built in this process with the stack's settings
    (only their url maps are read: what each process serves)."""
    import catalog
    import orders
    import users
    from catalog.config import CatalogSettings
    from flotilla.discovery.static import StaticDiscovery
    from gateway import create_app
    from gateway.config import GatewaySettings
    from orders.config import OrdersSettings
    from users.config import UsersSettings

    built = {"users": users.create_app(UsersSettings(database_url=env["USERS_DATABASE_URL"],
                                                     log_format="console")),
             "catalog": catalog.create_app(CatalogSettings(database_url=env["CATALOG_DATABASE_URL"],
                                                           log_format="console")),
             "orders": orders.create_app(OrdersSettings(database_url=env["ORDERS_DATABASE_URL"],
                                                        log_format="console"))}
    built["gateway"] = create_app(GatewaySettings(log_format="console"),
                                  StaticDiscovery({name: ["http://127.0.0.1:9"] for name in SERVICES}))
    return built


@pytest.fixture(scope="session")
def stack(rabbitmq_server) -> Iterator[Stack]:
    data = Path(tempfile.mkdtemp(prefix="flotilla-security-"))
    data.chmod(0o755)  # nginx's workers (nobody, when run as root) write bodies under it
    users_port = free_port()
    env = {**os.environ, "AMQP_URL": rabbitmq_server.url, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "console",
           "USERS_DATABASE_URL": f"sqlite:///{data / 'users.db'}",
           "CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}",
           "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}",
           "JWT_JWKS_URL": f"http://127.0.0.1:{users_port}/auth/jwks.json",
           "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "USERS_TRUSTED_PROXIES": "2",
           "FLOTILLA_ADMIN_EMAIL": ADMIN_EMAIL, "FLOTILLA_ADMIN_PASSWORD": PASSWORD,
           "GATEWAY_AUTH_RATE_LIMIT": "600/minute", "GATEWAY_RATE_LIMIT": "6000/minute"}
    _delete_queues(rabbitmq_server.url)
    _migrate(env)
    parts: list[Any] = []
    try:
        users = GunicornProcess("users:create_app()", env=env, workers=1)
        users.port, users.base_url = users_port, f"http://127.0.0.1:{users_port}"
        users._env["BIND"] = f"127.0.0.1:{users_port}"
        catalog = GunicornProcess("catalog:create_app()", env=env, workers=1)
        env["CATALOG_URL"] = catalog.base_url
        orders = GunicornProcess("orders:create_app()", env=env, workers=1)
        gateway = GunicornProcess("gateway:create_app()", workers=1, env={
            **env, "USERS_URL": users.base_url, "ORDERS_URL": orders.base_url,
            "GATEWAY_TRUSTED_PROXIES": "1", "GUNICORN_THREADS": "8"})
        servers = {"users": users, "catalog": catalog, "orders": orders, "gateway": gateway}
        parts += servers.values()
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda s: s.start(timeout=120), servers.values()))
        edge = NginxProcess(EdgeConfig(prefix=data / "nginx", http_port=free_port(), https_port=free_port(),
                                       gateway=f"127.0.0.1:{gateway.port}", max_body="64k")).start()
        parts.append(edge)
        yield Stack(edge, servers, env, parts)
    finally:
        with ThreadPoolExecutor(max(1, len(parts))) as pool:
            list(pool.map(lambda part: part.stop(), parts))
        _delete_queues(rabbitmq_server.url)


@pytest.fixture(scope="session")
def apps(stack: Stack) -> dict[str, Any]:
    return flask_apps(stack.env)
