"""The chaos scenarios: each records one row of figures; the rows print as one table at the end.

Scenarios marked ``chaos`` run only under ``make chaos`` (``FLOTILLA_CHAOS=1``); the others are
the fast subset that ``make test`` runs too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from ..saga.platform import Platform


@dataclass
class Row:
    """One scenario's figures. For order scenarios: orders placed, confirmed, lost (accepted but
    never final), stock reserved twice, 503s, seconds until the platform served again. For the
    gateway's: requests sent, 200s, 500s (never allowed), 503s, seconds until a 200 again."""

    scenario: str
    placed: int = 0
    confirmed: int = 0
    lost: int = 0
    applied_twice: int = 0
    refused_503: int = 0
    recovery_s: float = 0.0
    holds: str = "no"


ROWS: list[Row] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a fault scenario run only by make chaos")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("FLOTILLA_CHAOS") == "1":
        return
    keep = [i for i in items if i.get_closest_marker("chaos") is None]
    dropped = [i for i in items if i.get_closest_marker("chaos") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    names = [f.name for f in fields(Row)]
    cells = [[str(getattr(r, n)) for n in names] for r in ROWS]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    terminalreporter.section("chaos scenarios")
    terminalreporter.write_line(" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    terminalreporter.write_line("-+-".join("-" * w for w in widths))
    for c in cells:
        terminalreporter.write_line(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


@pytest.fixture
def record() -> Callable[..., Row]:
    def add(**figures: object) -> Row:
        row = Row(**figures)  # type: ignore[arg-type]
        ROWS.append(row)
        return row

    return add


@pytest.fixture
def make_chaos_platform(rabbitmq_server, minter, tmp_path: Path) -> Iterator[Callable[..., Platform]]:
    """``make_chaos_platform(**env)``: the saga platform (catalog and orders APIs, both workers
    started) on SQLite, fresh per scenario, with extra worker settings."""
    made: list[Platform] = []

    def make(**env: str) -> Platform:
        dbs = tuple(f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("catalog", "orders", "users"))
        platform = Platform(rabbitmq_server.url, *dbs, minter, tmp_path, **env)
        made.append(platform)
        return platform.start_workers()

    yield make
    for platform in made:
        platform.close()


@pytest.fixture
def chaos_platform(make_chaos_platform: Callable[..., Platform]) -> Platform:
    return make_chaos_platform()
