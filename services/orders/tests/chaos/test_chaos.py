"""Fault scenarios on the real saga platform (RabbitMQ, both workers, both APIs over HTTP)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from flotilla.testing import free_port
from flotilla.testing.faultproxy import FaultProxy

from ..saga.platform import Platform

pytestmark = pytest.mark.slow


@pytest.fixture
def catalog_proxy(chaos_platform: Platform) -> Iterator[FaultProxy]:
    """Puts a fault proxy on catalog's address: orders' client reaches catalog through it."""
    api = chaos_platform.catalog_api
    address = api.port
    api.stop()
    api.port = free_port()
    api.url = f"http://127.0.0.1:{api.port}"
    api.start()
    with FaultProxy("127.0.0.1", api.port, name="catalog", listen_port=address) as proxy:
        yield proxy


def _place_until_final(platform: Platform, headers: dict[str, str], pid: str, timeout: float,
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


def test_catalog_slow_then_down_during_placement(chaos_platform: Platform, catalog_proxy: FaultProxy,
                                                 record):
    platform, proxy = chaos_platform, catalog_proxy
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(3)]
    proxy.latency(300)  # slow but inside orders' 1 s timeout: still accepted
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(3)]
    proxy.timeout(0)  # stalled: orders' client times out, its breaker opens
    stalled = [platform.place(headers, [(pid, 1)]) for _ in range(3)]
    proxy.clear()
    proxy.down()  # refused
    down = [platform.place(headers, [(pid, 1)]) for _ in range(3)]
    refused = [r for r in stalled + down if r.status_code == 503]
    time.sleep(1)
    proxy.up()
    started = time.monotonic()
    retried: list[requests.Response] = []
    accepted += [_place_until_final(platform, headers, pid, 15, retried) for _ in range(3)]
    recovery = time.monotonic() - started
    ids = [r.json()["id"] for r in accepted if r.status_code == 202]
    statuses = platform.wait_none_pending(ids)
    all_orders = platform.statuses()
    row = record(scenario="catalog slow then down (fault proxy)", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(), refused_503=len(refused) + len(retried),
                 recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 9
    assert [r.status_code for r in stalled + down] == [503] * 6
    assert all(r.headers.get("Retry-After") for r in refused)
    assert all(r.headers.get("Content-Type", "").startswith("application/problem+json") for r in refused)
    assert statuses == {"confirmed": 9} and all_orders == {"confirmed": 9}  # nothing half-written
    assert platform.stock(pid) == 91 and platform.double_reservations() == 0
    assert platform.audit_discrepancies() == 0
    row.holds = "yes"


@pytest.mark.chaos
def test_orders_during_a_broker_restart(chaos_platform: Platform, rabbitmq_server, record):
    platform = chaos_platform
    pid = platform.product(stock=200)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(10)]
    started = time.monotonic()
    rabbitmq_server.stop()
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(10)]  # outbox keeps them
    rabbitmq_server.start()
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(10)]
    ids = [r.json()["id"] for r in accepted if r.status_code == 202]
    statuses = platform.wait_none_pending(ids, timeout=90)
    recovery = time.monotonic() - started
    row = record(scenario="orders during a broker restart", placed=len(accepted),
                 confirmed=statuses.get("confirmed", 0), lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 30
    assert statuses == {"confirmed": 30}
    assert platform.stock(pid) == 170 and platform.double_reservations() == 0
    assert platform.audit_discrepancies() == 0
    row.holds = "yes"


@pytest.mark.chaos
def test_a_worker_frozen_past_the_heartbeat_then_resumed(make_chaos_platform, record):
    """catalog-worker SIGSTOPped for longer than its AMQP heartbeat: the broker drops its
    connection and requeues what it held; SIGCONT: it reconnects and nothing is applied twice."""
    platform = make_chaos_platform(EVENTS_HEARTBEAT_SECONDS="2")
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    worker = platform.catalog_worker.proc
    assert worker is not None
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        accepted += [platform.place(headers, [(pid, 1)]) for _ in range(10)]
        time.sleep(8)  # past the heartbeat timeout: the broker closes the frozen connection
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    started = time.monotonic()
    ids = [r.json()["id"] for r in accepted if r.status_code == 202]
    statuses = platform.wait_none_pending(ids, timeout=60)
    recovery = time.monotonic() - started
    row = record(scenario="catalog-worker SIGSTOP 8 s (heartbeat 2 s), SIGCONT",
                 placed=len(accepted), confirmed=statuses.get("confirmed", 0),
                 lost=len(accepted) - sum(statuses.values()),
                 applied_twice=platform.double_reservations(),
                 refused_503=sum(r.status_code == 503 for r in accepted), recovery_s=round(recovery, 2))
    assert [r.status_code for r in accepted] == [202] * 15
    assert statuses == {"confirmed": 15}
    assert platform.stock(pid) == 85 and platform.double_reservations() == 0
    assert platform.audit_discrepancies() == 0
    assert worker.poll() is None  # the same process recovered, nobody restarted it
    row.holds = "yes"
