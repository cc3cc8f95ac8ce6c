"""Users fixtures: an app on a fresh, migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI

from flotilla import migrations
from users import MIGRATIONS, create_app
from users.bootstrap import users_of
from users.config import UsersSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(database_url: str) -> UsersSettings:
    return UsersSettings(database_url=database_url, log_format="console",
                         admin_email="root@flotilla.test", admin_password="root password 1")


@pytest.fixture
def app(settings: UsersSettings) -> Iterator[OpenAPI]:
    migrations.upgrade(MIGRATIONS, settings.database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    users_of(app).db.dispose()


@pytest.fixture
def client(app: OpenAPI) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def register(client: FlaskClient) -> Callable[..., dict]:
    """Register a fresh account; returns its JSON plus the password used."""

    def make(email: str | None = None, password: str = PASSWORD, name: str = "Ada") -> dict:
        email = email or f"u-{uuid.uuid4().hex[:10]}@example.org"
        response = client.post("/auth/register", json={"email": email, "password": password, "name": name})
        assert response.status_code == 201, response.json
        return {**response.json, "password": password}

    return make


@pytest.fixture
def login(client: FlaskClient, register: Callable[..., dict]) -> Callable[..., dict]:
    """Register (unless given an account) and log in; returns the token pair plus the user."""

    def make(user: dict | None = None) -> dict:
        user = user or register()
        response = client.post("/auth/login", json={"email": user["email"], "password": user["password"]})
        assert response.status_code == 200, response.json
        return {**response.json, "user": user,
                "headers": {"Authorization": f"Bearer {response.json['access_token']}"}}

    return make
