"""Users (two workers) and catalog as real gunicorn processes on loopback, catalog trusting
users' JWKS; one such stack per backend for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from flotilla import migrations
from flotilla.testing.processes import GunicornProcess
from users import MIGRATIONS

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@flotilla.test", "e2e admin password"
CUSTOMER_PASSWORD = "e2e customer password"
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    users: GunicornProcess
    catalog: GunicornProcess
    users_env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run the ``users`` command against the running service's database."""
        result = subprocess.run([str(BIN / "users"), *args], env={**os.environ, **self.users_env},
                                capture_output=True, text=True, timeout=60, check=True)
        return result.stdout

    def register(self, password: str = CUSTOMER_PASSWORD) -> dict:
        email = f"e2e-{uuid.uuid4().hex[:8]}@example.org"
        response = requests.post(f"{self.users.base_url}/auth/register",
                                 json={"email": email, "password": password, "name": "E2E"}, timeout=10)
        assert response.status_code == 201, response.text
        return {**response.json(), "password": password}

    def admin(self) -> dict:
        return self.login(ADMIN_EMAIL, ADMIN_PASSWORD)

    def login(self, email: str, password: str) -> dict:
        response = requests.post(f"{self.users.base_url}/auth/login",
                                 json={"email": email, "password": password}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def _migrate(command: str, env: dict[str, str]) -> None:
    subprocess.run([str(BIN / command), "migrate"], env={**os.environ, **env}, check=True,
                   capture_output=True, timeout=120)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if request.param == "sqlite":
        root = tmp_path_factory.mktemp("e2e")
        users_url, catalog_url = f"sqlite:///{root / 'users.db'}", f"sqlite:///{root / 'catalog.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        users_url, catalog_url = server.create_database("users"), server.create_database("catalog")
    users_env = {"USERS_DATABASE_URL": users_url, "LOG_FORMAT": "console"}
    catalog_env = {"CATALOG_DATABASE_URL": catalog_url, "LOG_FORMAT": "console"}
    migrations.upgrade(MIGRATIONS, users_url)
    _migrate("catalog", catalog_env)  # catalog's own command: its code is not ours to import
    users = GunicornProcess("users:create_app()", env={
        **users_env, "FLOTILLA_ADMIN_EMAIL": ADMIN_EMAIL, "FLOTILLA_ADMIN_PASSWORD": ADMIN_PASSWORD}).start()
    try:
        catalog = GunicornProcess("catalog:create_app()", env={
            **catalog_env, "JWT_JWKS_URL": f"{users.base_url}/auth/jwks.json",
            "JWT_JWKS_REFETCH_INTERVAL": "1"}, workers=1).start()
    except Exception:
        users.stop()
        raise
    try:
        yield Stack(users, catalog, users_env)
    finally:
        catalog.stop()
        users.stop()
