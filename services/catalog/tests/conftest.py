"""Catalog fixtures: an app on a fresh, migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI

from catalog import MIGRATIONS, create_app
from catalog.config import CatalogSettings
from flotilla import migrations


@pytest.fixture
def app(database_url: str) -> Iterator[OpenAPI]:
    migrations.upgrade(MIGRATIONS, database_url)
    app = create_app(CatalogSettings(database_url=database_url, log_format="console"))
    app.config["TESTING"] = True
    yield app
    app.extensions["flotilla_db"].dispose()


@pytest.fixture
def client(app: OpenAPI) -> FlaskClient:
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
