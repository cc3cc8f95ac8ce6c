"""Orders fixtures: a real catalog served on loopback, and orders on a fresh database
(SQLite and PostgreSQL), both trusting the tests' token minter."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from werkzeug.serving import BaseWSGIServer, make_server

import catalog
from catalog.config import CatalogSettings
from flotilla import migrations
from flotilla.discovery.static import StaticDiscovery
from flotilla.http import BreakerRegistry, CallPolicy, ServiceClient
from flotilla.testing import free_port
from flotilla.testing.tokens import TokenMinter
from orders import MIGRATIONS, create_app
from orders.bootstrap import orders_of
from orders.catalog_client import CatalogClient
from orders.config import OrdersSettings


class ServedApp:
    """A Flask app served by werkzeug in a thread on a free loopback port (stoppable, restartable)."""

    def __init__(self, app: Flask) -> None:
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: BaseWSGIServer | None = None

    def start(self) -> ServedApp:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def catalog_server(tmp_path_factory: pytest.TempPathFactory, minter: TokenMinter) -> Iterator[ServedApp]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('catalog')) / 'catalog.db'}"
    migrations.upgrade(catalog.MIGRATIONS, url)
    app = catalog.create_app(CatalogSettings(database_url=url, log_format="console"),
                             key_source=minter.key_source())
    served = ServedApp(app).start()
    yield served
    served.stop()


@pytest.fixture
def make_product(catalog_server: ServedApp, minter: TokenMinter) -> Callable[..., dict]:
    """Create a product in the served catalog; returns its JSON."""
    admin = catalog_server.app.test_client()
    headers = minter.bearer(roles=["admin"])

    def make(**fields: object) -> dict:
        body = {"name": f"Widget {uuid.uuid4().hex[:6]}", "price_cents": 1000, "currency": "EUR",
                "stock": 10, **fields}
        response = admin.post("/products", json=body, headers=headers)
        assert response.status_code == 201, response.json
        return response.json

    return make


def catalog_client(url: str, *, timeout: float = 1.0, failures: int = 3, reset: float = 1.0) -> CatalogClient:
    http = ServiceClient("catalog", StaticDiscovery({"catalog": [url]}), policy=CallPolicy(timeout=timeout),
                         breakers=BreakerRegistry(failure_threshold=failures, reset_timeout=reset))
    return CatalogClient(http)


@pytest.fixture
def app(database_url: str, minter: TokenMinter, catalog_server: ServedApp) -> Iterator[OpenAPI]:
    migrations.upgrade(MIGRATIONS, database_url)
    app = create_app(OrdersSettings(database_url=database_url, log_format="console"),
                     key_source=minter.key_source(), catalog=catalog_client(catalog_server.url))
    app.config["TESTING"] = True
    yield app
    orders_of(app).db.dispose()


@pytest.fixture
def customer(minter: TokenMinter) -> Callable[[], tuple[uuid.UUID, dict[str, str]]]:
    """A new customer: ``(user_id, headers)``."""

    def make() -> tuple[uuid.UUID, dict[str, str]]:
        user_id = uuid.uuid4()
        return user_id, minter.bearer(user_id)

    return make


@pytest.fixture
def client(app: OpenAPI) -> FlaskClient:
    return app.test_client()
