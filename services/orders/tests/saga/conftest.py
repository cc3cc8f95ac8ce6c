"""The saga tests' platform, once on SQLite and once on PostgreSQL (two databases each)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .platform import Platform

SERVICES = ("catalog", "orders", "users")


def _databases(request: pytest.FixtureRequest, where: Path) -> tuple[str, ...]:
    """One database per service (catalog, orders, users), all on the parametrised backend."""
    if request.param == "sqlite":
        return tuple(f"sqlite:///{where / f'{name}.db'}" for name in SERVICES)
    server = request.getfixturevalue("postgres_server")
    return tuple(server.create_database(name) for name in SERVICES)


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    return _databases(request, tmp_path)


@pytest.fixture
def make_platform(rabbitmq_server, databases, minter, tmp_path) -> Iterator[Callable[..., Platform]]:
    """``make_platform(**env)``: the platform with extra worker settings; workers not started yet."""
    made: list[Platform] = []

    def make(**env: str) -> Platform:
        platform = Platform(rabbitmq_server.url, *databases, minter, tmp_path, **env)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()


@pytest.fixture
def platform(make_platform) -> Platform:
    return make_platform().start_workers()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_platform(request, rabbitmq_server, minter, tmp_path_factory) -> Iterator[Platform]:
    """One platform for a module's tests that leave workers and APIs as they found them;
    each test looks only at its own products and orders."""
    where = tmp_path_factory.mktemp("saga")
    platform = Platform(rabbitmq_server.url, *_databases(request, where), minter, where).start_workers()
    yield platform
    platform.close()
