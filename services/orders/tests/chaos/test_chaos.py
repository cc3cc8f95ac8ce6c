"""Fault scenarios on the real saga platform (RabbitMQ, both workers, both APIs over HTTP)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from flask import jsonify
from flask.testing import FlaskClient

from flotilla.discovery.static import StaticDiscovery
from flotilla.testing import free_port
from flotilla.testing.faultproxy import FaultProxy
from flotilla.testing.upstream import FakeUpstream

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


def _gateway(minter, catalog_urls: list[str]) -> FlaskClient:
    from gateway import create_app
    from gateway.config import GatewaySettings

    settings = GatewaySettings(log_format="console", breaker_failures=5, breaker_reset_seconds=1.0)
    found = {name: ["http://127.0.0.1:9"] for name in ("users", "orders")}
    app = create_app(settings, StaticDiscovery({**found, "catalog": catalog_urls}),
                     key_source=minter.key_source())
    return app.test_client()


def _products_upstream(name: str) -> FakeUpstream:
    up = FakeUpstream(name)
    up.app.add_url_rule("/products", "products", lambda: jsonify(items=[], served_by=name),
                        methods=["GET"])
    return up.start()


def _until_ok(gw: FlaskClient, timeout: float = 10) -> float:
    started = time.monotonic()
    while gw.get("/api/v1/products").status_code != 200:
        assert time.monotonic() - started < timeout, "the gateway did not recover"
        time.sleep(0.05)
    return time.monotonic() - started


def test_an_upstream_resetting_connections_behind_the_gateway(minter, record):
    up = _products_upstream("catalog")
    try:
        with FaultProxy("127.0.0.1", up.port, name="catalog") as proxy:
            gw = _gateway(minter, [proxy.url])
            before = [gw.get("/api/v1/products").status_code for _ in range(20)]
            proxy.reset()
            during = [gw.get("/api/v1/products") for _ in range(50)]
            proxy.clear()
            recovery = _until_ok(gw)
    finally:
        up.stop()
    statuses = [r.status_code for r in during]
    problems = all(r.headers["Content-Type"].startswith("application/problem+json") for r in during)
    row = record(scenario="upstream resets connections behind the gateway", placed=70,
                 confirmed=before.count(200), lost=sum(s == 500 for s in statuses),
                 refused_503=statuses.count(503), recovery_s=round(recovery, 2))
    print(f"\nreset behind the gateway: statuses during {sorted(set(statuses))}, resets {proxy.stats.reset}")
    assert before == [200] * 20
    assert set(statuses) <= {502, 503} and problems  # clean problems, never a 500
    assert statuses.count(503) >= 40  # the breaker opened: fast 503s, upstream left alone
    assert recovery < 3
    row.holds = "yes"


@pytest.mark.chaos
def test_the_gateways_breakers_and_budget_under_a_half_failing_fleet(minter, record):
    good, bad = _products_upstream("good"), _products_upstream("bad")
    try:
        with FaultProxy("127.0.0.1", bad.port, name="bad") as proxy:
            proxy.reset()  # one of two instances resets every connection
            gw = _gateway(minter, [good.url, proxy.url])
            statuses = [gw.get("/api/v1/products").status_code for _ in range(200)]
            tried_bad = proxy.stats.accepted
            proxy.clear()
            recovery = _until_ok(gw)
    finally:
        good.stop()
        bad.stop()
    failed = len(statuses) - statuses.count(200)
    row = record(scenario="half the catalog instances resetting (gateway)", placed=200,
                 confirmed=statuses.count(200), lost=sum(s == 500 for s in statuses),
                 refused_503=statuses.count(503), recovery_s=round(recovery, 2))
    print(f"\nhalf-failing fleet: {statuses.count(200)}/200 ok, {failed} failed, the bad instance "
          f"was tried {tried_bad} times, good served {good.count('GET', '/products')}")
    assert statuses.count(500) == 0
    assert statuses.count(200) >= 190  # retried on the good instance within the budget
    assert tried_bad <= 20  # its breaker keeps it out of the rotation
    row.holds = "yes"


@pytest.mark.chaos
def test_killing_the_node_leading_the_queues_mid_burst_of_a_three_node_cluster(minter, tmp_path, record):
    from flotilla.testing.rabbitmq_cluster import RabbitMQCluster

    cluster = RabbitMQCluster(3).start()
    platform: Platform | None = None
    try:
        first, second, _ = cluster.nodes
        dbs = tuple(f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("catalog", "orders", "users"))
        platform = Platform(second.url, *dbs, minter, tmp_path)
        platform.start_workers()  # the queues are declared through node 2: it leads them
        for worker in (platform.catalog_worker, platform.orders_worker):
            worker.stop()
        platform.env["AMQP_URL"] = first.url  # the services now live on node 1
        platform.start_workers()
        leader = cluster.leader("catalog")
        assert leader is second and len(cluster.members("catalog")) == 3
        pid = platform.product(stock=500)
        _, headers = platform.customer()
        accepted = [platform.place(headers, [(pid, 1)]) for _ in range(15)]
        started = time.monotonic()
        leader.kill()  # mid-burst: a new leader is elected among the other two
        accepted += [platform.place(headers, [(pid, 1)]) for _ in range(15)]
        leader.start()
        ids = [r.json()["id"] for r in accepted if r.status_code == 202]
        statuses = platform.wait_none_pending(ids, timeout=90)
        recovery = time.monotonic() - started
        new_leader = cluster.leader("catalog", via=first)
        row = record(scenario="3-node cluster: the queues' leader killed mid-burst",
                     placed=len(accepted), confirmed=statuses.get("confirmed", 0),
                     lost=len(accepted) - sum(statuses.values()),
                     applied_twice=platform.double_reservations(),
                     refused_503=sum(r.status_code == 503 for r in accepted),
                     recovery_s=round(recovery, 2))
        print(f"\ncluster: leader {leader.nodename} killed, new leader {new_leader.nodename}")
        assert [r.status_code for r in accepted] == [202] * 30
        assert statuses == {"confirmed": 30}
        assert platform.stock(pid) == 470 and platform.double_reservations() == 0
        assert platform.audit_discrepancies() == 0
        row.holds = "yes"
    finally:
        if platform is not None:
            platform.close()
        cluster.close()


@pytest.mark.chaos
def test_postgresql_restarted_under_load(rabbitmq_server, minter, tmp_path, record):
    """The database away for ~3 s while orders come in: clean 503 problems, never a 500; when it
    is back the same processes (APIs and workers) serve again and every accepted order is final."""
    from flotilla.testing.postgres import PostgresServer

    server = PostgresServer().start()
    platform: Platform | None = None
    try:
        dbs = tuple(server.create_database(name) for name in ("catalog", "orders", "users"))
        platform = Platform(rabbitmq_server.url, *dbs, minter, tmp_path).start_workers()
        pid = platform.product(stock=200)
        _, headers = platform.customer()
        pg_ctl = str(server.bindir / "pg_ctl")
        accepted = [platform.place(headers, [(pid, 1)]) for _ in range(10)]
        server._run(pg_ctl, "-D", str(server.datadir), "-m", "fast", "-w", "stop")
        started = time.monotonic()
        during = []
        while time.monotonic() - started < 3:
            during.append(platform.place(headers, [(pid, 1)]))
            time.sleep(0.1)
        server._run(pg_ctl, "-D", str(server.datadir), "-o",
                    f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-l", str(server.root / "server.log"), "-w", "-t", "60", "start")
        retried: list[requests.Response] = []
        accepted += [_place_until_final(platform, headers, pid, 30, retried) for _ in range(10)]
        recovery = time.monotonic() - started
        accepted += [r for r in during if r.status_code == 202]
        ids = [r.json()["id"] for r in accepted if r.status_code == 202]
        statuses = platform.wait_none_pending(ids, timeout=60)
        codes = sorted({r.status_code for r in during + retried})
        row = record(scenario="PostgreSQL stopped ~3 s under load, started again",
                     placed=len(accepted), confirmed=statuses.get("confirmed", 0),
                     lost=len(ids) - sum(statuses.values()),
                     applied_twice=platform.double_reservations(),
                     refused_503=sum(r.status_code == 503 for r in during + retried),
                     recovery_s=round(recovery, 2))
        print(f"\npostgresql restart: statuses while down {codes}, {len(during)} requests")
        refused = [r for r in during + retried if r.status_code != 202]
        assert all(r.status_code == 503 for r in refused), codes
        assert all(r.headers["Content-Type"].startswith("application/problem+json") for r in refused)
        assert all(r.status_code == 202 for r in accepted)
        assert statuses == {"confirmed": len(ids)} and platform.double_reservations() == 0
        for worker in (platform.catalog_worker, platform.orders_worker):
            assert worker.proc is not None and worker.proc.poll() is None  # not restarted
        row.holds = "yes"
    finally:
        if platform is not None:
            platform.close()
        server.stop()
