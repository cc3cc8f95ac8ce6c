"""Failed logins are counted in the database per account and per address: 429 with Retry-After."""

from __future__ import annotations

import pytest
from flask_openapi3 import OpenAPI

from flotilla import migrations
from users import MIGRATIONS, create_app
from users.bootstrap import users_of
from users.config import UsersSettings


def _login(client, email: str, password: str):
    return client.post("/auth/login", json={"email": email, "password": password})


def test_the_sixth_failure_for_one_account_is_throttled(client, register):
    user = register()
    for _ in range(5):
        assert _login(client, user["email"], "wrong password").status_code == 401
    throttled = _login(client, user["email"], user["password"])  # even the right one, for now
    assert throttled.status_code == 429
    assert throttled.content_type == "application/problem+json"
    assert 0 < int(throttled.headers["Retry-After"]) <= 900
    other = register()
    assert _login(client, other["email"], other["password"]).status_code == 200


def test_unknown_accounts_are_throttled_like_real_ones(client):
    for _ in range(5):
        assert _login(client, "ghost@example.org", "whatever12").status_code == 401
    assert _login(client, "ghost@example.org", "whatever12").status_code == 429


def test_a_success_clears_the_account_count(client, register):
    user = register()
    for _ in range(4):
        _login(client, user["email"], "wrong password")
    assert _login(client, user["email"], user["password"]).status_code == 200
    for _ in range(4):
        assert _login(client, user["email"], "wrong password").status_code == 401


@pytest.fixture
def strict_app(database_url: str) -> OpenAPI:
    migrations.upgrade(MIGRATIONS, database_url)
    settings = UsersSettings(database_url=database_url, log_format="console",
                             login_max_failures_per_address=3, login_window=60)
    app = create_app(settings)
    yield app
    users_of(app).db.dispose()


def test_one_address_trying_many_accounts_is_throttled(strict_app):
    client = strict_app.test_client()
    for i in range(3):
        assert _login(client, f"victim{i}@example.org", "guess-guess").status_code == 401
    response = _login(client, "victim9@example.org", "guess-guess")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    other = strict_app.test_client()
    elsewhere = other.post("/auth/login", json={"email": "victim9@example.org", "password": "guess-guess"},
                           environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert elsewhere.status_code == 401


def test_a_direct_client_rotating_x_forwarded_for_is_throttled_by_its_own_address(database_url: str):
    migrations.upgrade(MIGRATIONS, database_url)
    settings = UsersSettings(database_url=database_url, log_format="console", login_window=60,
                             login_max_failures_per_address=3, trusted_proxies=2,
                             trusted_proxy_addresses="10.0.0.0/24")
    app = create_app(settings)
    try:
        client = app.test_client()

        def attempt(n: int, peer: str) -> int:
            body = {"email": f"spray{n}@example.org", "password": "guess-guess"}
            return client.post("/auth/login", json=body,
                               headers={"X-Forwarded-For": f"203.0.113.{n}, 10.0.0.1"},
                               environ_base={"REMOTE_ADDR": peer}).status_code

        assert [attempt(n, "198.51.100.30") for n in range(6)] == [401] * 3 + [429] * 3
        assert [attempt(n, "10.0.0.2") for n in range(10, 16)] == [401] * 6  # six clients via the proxies
    finally:
        users_of(app).db.dispose()
