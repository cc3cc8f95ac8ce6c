"""The saga tests' platform, once on SQLite and once on PostgreSQL (two databases each)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .platform import Platform


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}", f"sqlite:///{tmp_path / 'orders.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database("catalog"), server.create_database("orders")


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
