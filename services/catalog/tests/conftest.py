"""Catalog fixtures: an app on a fresh, migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI

from catalog import MIGRATIONS, create_app
from catalog.bootstrap import catalog_of
from catalog.config import CatalogSettings
from flotilla import migrations
from flotilla.testing.tokens import TokenMinter


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    """Signs the tests' access tokens; the app trusts its key instead of users' JWKS."""
    return TokenMinter()


@pytest.fixture
def app(database_url: str, minter: TokenMinter) -> Iterator[OpenAPI]:
    migrations.upgrade(MIGRATIONS, database_url)
    app = create_app(CatalogSettings(database_url=database_url, log_format="console"),
                     key_source=minter.key_source())
    app.config["TESTING"] = True
    yield app
    catalog_of(app).db.dispose()


@pytest.fixture
def client(app: OpenAPI, minter: TokenMinter) -> FlaskClient:
    """A client that sends an admin's bearer token with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = minter.bearer(roles=["admin"])["Authorization"]
    return client


@pytest.fixture
def anonymous(app: OpenAPI) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_product(client: FlaskClient):
    """POST a product and return its JSON; fields override sensible defaults."""

    def make(**fields: object) -> dict:
        body = {"name": "Widget", "price_cents": 1000, "currency": "EUR", "stock": 10, **fields}
        response = client.post("/products", json=body)
        assert response.status_code == 201, response.json
        return response.json

    return make
