"""Real loopback upstreams for the client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flotilla.testing.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream("one").start()
    yield server
    server.stop()


@pytest.fixture
def upstream2() -> Iterator[FakeUpstream]:
    server = FakeUpstream("two").start()
    yield server
    server.stop()
