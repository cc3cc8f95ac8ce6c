"""Faults between the services and their backends: a fault proxy in front of RabbitMQ (every
worker's connection goes through it) and one in front of PostgreSQL (the APIs' and the workers'
pools go through it). Each scenario: orders placed, confirmed, lost 0, applied twice 0, clean
503 problems while a backend is unreachable, and recovery by the same processes (no restart)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from flotilla.testing.faultproxy import FaultProxy
from flotilla.testing.postgres import PostgresServer

from ..saga.platform import Platform

pytestmark = pytest.mark.slow


def _through(url: str, proxy: FaultProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{proxy.host}:{proxy.port}" if userinfo else f"{proxy.host}:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def broker_proxy(rabbitmq_server) -> Iterator[FaultProxy]:
    port = urlsplit(rabbitmq_server.url).port
    assert port is not None
    with FaultProxy("127.0.0.1", port, name="rabbitmq") as proxy:
        yield proxy


@pytest.fixture
def broker_platform(rabbitmq_server, broker_proxy: FaultProxy, minter, tmp_path: Path) -> Iterator[Platform]:
    """The saga platform (SQLite) whose workers reach RabbitMQ only through ``broker_proxy``;
    a short heartbeat so that a stalled connection is noticed within seconds."""
    dbs = tuple(f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("catalog", "orders", "users"))
    platform = Platform(_through(rabbitmq_server.url, broker_proxy), *dbs, minter, tmp_path,
                        EVENTS_HEARTBEAT_SECONDS="2")
    try:
        yield platform.start_workers()
    finally:
        broker_proxy.clear()
        platform.close()


@pytest.fixture
def pg_proxy(postgres_server: PostgresServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", postgres_server.port, name="postgresql") as proxy:
        yield proxy


@pytest.fixture
def pg_platform(postgres_server: PostgresServer, pg_proxy: FaultProxy, rabbitmq_server, minter,
                tmp_path: Path) -> Iterator[Platform]:
    """The saga platform on PostgreSQL, every connection (APIs and workers) through ``pg_proxy``."""
    dbs = tuple(_through(postgres_server.create_database(name), pg_proxy)
                for name in ("catalog", "orders", "users"))
    # A retry schedule that outlasts the faults below, as production's (1 s, 10 s, 60 s) does; the
    # saga platform's 100/200 ms would park an event after ~0.7 s of a database away.
    platform = Platform(rabbitmq_server.url, *dbs, minter, tmp_path, EVENTS_RETRY_DELAYS_MS="500,1000,2000")
    try:
        yield platform.start_workers()
    finally:
        pg_proxy.clear()
        platform.close()


def _place_until_accepted(platform: Platform, headers: dict[str, str], pid: str, timeout: float,
                          refused: list[requests.Response]) -> requests.Response:
    """A client honouring 503 + Retry-After with one Idempotency-Key: at most one order."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    while True:
        response = platform.place(headers, [(pid, 1)], key=key)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        refused.append(response)
        time.sleep(0.2)


def _figures(platform: Platform, accepted: list[requests.Response],
             timeout: float) -> tuple[dict[str, int], list[str]]:
    ids = [r.json()["id"] for r in accepted if r.status_code == 202]
    return platform.wait_none_pending(ids, timeout=timeout), ids


def _assert_final(platform: Platform, pid: str, stock: int, ids: list[str], statuses: dict[str, int]) -> None:
    assert statuses == {"confirmed": len(ids)}
    assert platform.stock(pid) == stock - len(ids)
    assert platform.double_reservations() == 0
    assert platform.audit_discrepancies() == 0
    for worker in (platform.catalog_worker, platform.orders_worker):
        assert worker.proc is not None and worker.proc.poll() is None  # the same processes


# ---- RabbitMQ behind a fault proxy -----------------------------------------------------------


def test_broker_connections_reset_mid_burst(broker_platform: Platform, broker_proxy: FaultProxy, record):
    """Every worker connection to RabbitMQ reset in the middle of a burst (and new ones reset for
    a second): the outbox keeps what could not be published, the workers reconnect by
    themselves, unacknowledged deliveries come again and are applied once."""
    platform, proxy = broker_platform, broker_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    proxy.reset()
    started = time.monotonic()
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    time.sleep(1)
    proxy.clear()
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    statuses, ids = _figures(platform, accepted, timeout=60)
    recovery = time.monotonic() - started
    row = record(scenario="RabbitMQ connections reset mid-burst (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert proxy.stats.reset >= 2  # both workers' connections were cut
    assert [r.status_code for r in accepted] == [202] * 15  # the API never needed the broker
    _assert_final(platform, pid, 100, ids, statuses)
    row.holds = "yes"


@pytest.mark.chaos
def test_broker_latency(broker_platform: Platform, broker_proxy: FaultProxy, record):
    """200 ms (+/- 50) on every chunk both ways between the workers and RabbitMQ: slower, never lost."""
    platform, proxy = broker_platform, broker_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    proxy.latency(200, 50, direction="both")
    started = time.monotonic()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(20)]
    statuses, ids = _figures(platform, accepted, timeout=90)
    recovery = time.monotonic() - started
    row = record(scenario="RabbitMQ 200+-50 ms latency both ways (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 20
    _assert_final(platform, pid, 100, ids, statuses)
    row.holds = "yes"


@pytest.mark.chaos
def test_broker_stalled_past_the_heartbeat(broker_platform: Platform, broker_proxy: FaultProxy, record):
    """RabbitMQ's connections stalled (bytes dropped, sockets open) for 8 s, past the 2 s
    heartbeat: the workers notice, give the connection up and reconnect once it flows again."""
    platform, proxy = broker_platform, broker_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    proxy.timeout(0)
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(10)]
    time.sleep(8)
    proxy.clear()
    started = time.monotonic()
    statuses, ids = _figures(platform, accepted, timeout=90)
    recovery = time.monotonic() - started
    row = record(scenario="RabbitMQ stalled 8 s (heartbeat 2 s) (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 15
    _assert_final(platform, pid, 100, ids, statuses)
    row.holds = "yes"


# ---- PostgreSQL behind a fault proxy ---------------------------------------------------------


@pytest.mark.chaos
def test_postgresql_latency(pg_platform: Platform, pg_proxy: FaultProxy, record):
    """50 ms on every chunk both ways between every process and PostgreSQL: slower, all final."""
    platform, proxy = pg_platform, pg_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    proxy.latency(50, direction="both")
    started = time.monotonic()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(10)]
    statuses, ids = _figures(platform, accepted, timeout=120)
    recovery = time.monotonic() - started
    row = record(scenario="PostgreSQL 50 ms latency both ways (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 10
    _assert_final(platform, pid, 100, ids, statuses)
    row.holds = "yes"


@pytest.mark.chaos  # make test covers a database outage in shared/tests/events/test_database_outage.py
def test_postgresql_connections_reset(pg_platform: Platform, pg_proxy: FaultProxy, record):
    """Every connection to PostgreSQL reset (and new ones reset) for ~2 s while orders come in:
    clean 503 problems with Retry-After, never a 500; then the same processes serve again and
    every accepted order is final, none applied twice."""
    platform, proxy = pg_platform, pg_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    proxy.reset()
    started = time.monotonic()
    during: list[requests.Response] = []
    while time.monotonic() - started < 2:
        during.append(platform.place(headers, [(pid, 1)]))
        time.sleep(0.1)
    proxy.clear()
    retried: list[requests.Response] = []
    accepted += [_place_until_accepted(platform, headers, pid, 30, retried) for _ in range(5)]
    recovery = time.monotonic() - started
    accepted += [r for r in during if r.status_code == 202]
    statuses, ids = _figures(platform, accepted, timeout=60)
    refused = [r for r in during + retried if r.status_code != 202]
    row = record(scenario="PostgreSQL connections reset ~2 s (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(ids) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(), refused_503=len(refused),
                 recovery_s=round(recovery, 2))
    codes = sorted({r.status_code for r in during + retried})
    print(f"\npostgresql reset: statuses while reset {codes}, {len(during)} requests, "
          f"{proxy.stats.reset} connections reset")
    assert proxy.stats.reset >= 1 and refused  # the fault was felt
    assert all(r.status_code == 503 for r in refused), codes
    assert all(r.headers["Content-Type"].startswith("application/problem+json") for r in refused)
    assert all(r.headers.get("Retry-After") for r in refused)
    assert all(r.status_code == 202 for r in accepted)
    _assert_final(platform, pid, 100, ids, statuses)
    row.holds = "yes"
