"""pytest fixtures shared by every component (registered as the ``flotilla`` plugin).

``postgres_server``: one real PostgreSQL for the session, started on first use.
``database_url``: parametrised over ``sqlite`` and ``postgresql``, a fresh empty
database per test; tests that use it run once on each backend.
``rabbitmq_server``: one real RabbitMQ node for the session (about 6 s to boot),
started on first use; tests keep apart by service and routing-key names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flotilla.testing.postgres import PostgresServer
from flotilla.testing.rabbitmq import RabbitMQServer

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitMQServer]:
    server = RabbitMQServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
