"""The order saga end to end at a fixed offered rate, on SQLite and on PostgreSQL in one run:
the share of orders confirmed, the time from ``POST /orders`` to ``confirmed`` (p50/p99), and
the platform's CPU per confirmed order summed over every process.

Everything real, on this machine: RabbitMQ (the test harness's node), catalog and orders
under gunicorn (2 workers each), ``catalog-worker`` and ``orders-worker``, a JWKS endpoint for
the tokens and, for the PostgreSQL row, a throwaway server (``flotilla.testing.postgres``).
Orders are sent open-loop: order *i* is due at ``start + i / rate`` and its latency counts from
that due time (no coordinated omission). The time an order became confirmed is its
``updated_at`` in orders' database (set by the worker when ``stock.reserved`` arrives).
CPU: utime + stime from /proc of orders (API + worker), catalog (API + worker), RabbitMQ's
beam and, on PostgreSQL, the database server, from the first order sent until every order has
left ``pending`` (or ``BENCH_SAGA_DRAIN`` seconds after the last was sent); the sender's own
CPU is reported beside it.
Settings: BENCH_ORDER_RATE (orders/s offered, default 100), BENCH_SAGA_SECONDS (default 30),
BENCH_SAGA_DATABASES (default ``sqlite,postgresql``), BENCH_SAGA_DRAIN (default 60).
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from flask import Flask, jsonify
from sqlalchemy import select
from werkzeug.serving import make_server

from bench import _cpu
from flotilla.db import Database
from flotilla.testing import free_port, wait_for
from flotilla.testing.postgres import PostgresServer
from flotilla.testing.processes import GunicornProcess
from flotilla.testing.rabbitmq import RabbitMQServer
from flotilla.testing.tokens import TokenMinter
from orders.repository import orders as orders_table

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

RATE = float(os.environ.get("BENCH_ORDER_RATE", "100"))
SECONDS = float(os.environ.get("BENCH_SAGA_SECONDS", "30"))
DATABASES = [d.strip() for d in os.environ.get("BENCH_SAGA_DATABASES", "sqlite,postgresql").split(",")
             if d.strip()]
DRAIN = float(os.environ.get("BENCH_SAGA_DRAIN", "60"))
BIN = Path(sys.executable).parent
SENDERS = 16


def _serve_jwks(minter: TokenMinter) -> tuple[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = Flask("jwks")
    app.get("/auth/jwks.json")(lambda: jsonify(minter.jwks()))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/auth/jwks.json", server


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _send(orders_url: str, product_id: str, minter: TokenMinter,
          rate: float) -> tuple[dict[str, float], int, list[float]]:
    """Offer ``rate`` orders/s for ``SECONDS``; returns {order id: due time}, failures, POST latencies."""
    total, due_of, failures, post_ms = int(rate * SECONDS), {}, 0, []
    lock, next_index = threading.Lock(), 0
    start = time.time() + 0.3
    headers = [minter.bearer(uuid.uuid4()) for _ in range(8)]

    def sender() -> None:
        nonlocal next_index, failures
        session = requests.Session()
        while True:
            with lock:
                index, next_index = next_index, next_index + 1
            if index >= total:
                break
            due = start + index / rate
            time.sleep(max(0.0, due - time.time()))
            try:
                response = session.post(f"{orders_url}/orders", timeout=10,
                                        json={"items": [{"product_id": product_id, "quantity": 1}]},
                                        headers={**headers[index % 8], "Idempotency-Key": uuid.uuid4().hex})
                accepted = response.status_code == 202
            except requests.RequestException:
                accepted = False
            with lock:
                post_ms.append((time.time() - due) * 1000)
                if accepted:
                    due_of[response.json()["id"]] = due
                else:
                    failures += 1

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return due_of, failures, post_ms


def _states(db: Database) -> dict[str, tuple[str, float]]:
    c = orders_table.c
    with db.session() as session:
        rows = session.execute(select(c.id, c.status, c.updated_at))
        return {str(r.id): (r.status, _epoch(r.updated_at)) for r in rows}


def _pending(rows: dict[str, tuple[str, float]], due_of: dict[str, float]) -> bool:
    return any(rows.get(oid, ("pending",))[0] == "pending" for oid in due_of)


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@contextmanager
def _platform(env: dict[str, str], data: Path) -> Iterator[dict[str, Any]]:
    """catalog and orders (API + worker each) on the databases of ``env``, migrated."""
    full_env = {**os.environ, **env}
    for service in ("catalog", "orders"):
        subprocess.run([str(BIN / service), "migrate"], check=True, env=full_env, capture_output=True)
    started: list[Any] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        catalog = GunicornProcess("catalog:create_app()", env=env, workers=2).start(timeout=STARTUP)
        started.append(catalog)
        orders = GunicornProcess("orders:create_app()", env={**env, "CATALOG_URL": catalog.base_url},
                                 workers=2).start(timeout=STARTUP)
        started.append(orders)
        ports = {"catalog-worker": free_port(), "orders-worker": free_port()}
        workers = [subprocess.Popen([str(BIN / name), "run"], env={**full_env, "WORKER_PORT": str(port)},
                                    stdout=(data / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
                   for name, port in ports.items()]
        for port in ports.values():  # each worker's queues exist before any event is sent to them
            wait_for(lambda port=port: requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).ok,
                     timeout=60, interval=0.2, what="worker readiness")
        yield {"catalog": catalog, "orders": orders, "catalog-worker": workers[0],
               "orders-worker": workers[1]}
    finally:
        for proc in workers:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for process in reversed(started):
            process.stop()


def _broker_pid(broker: RabbitMQServer) -> int:
    """The node's launcher script: beam.smp and its helpers run under it."""
    assert broker._proc is not None
    return broker._proc.pid


def _postmaster_pid(pg: PostgresServer) -> int:
    return int((pg.datadir / "postmaster.pid").read_text().split()[0])


def run_one(kind: str, broker: RabbitMQServer, minter: TokenMinter, jwks_url: str,
            pg: PostgresServer | None) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix=f"bench-saga-{kind}-"))
    if kind == "postgresql":
        assert pg is not None
        urls = {"CATALOG_DATABASE_URL": pg.create_database("catalog"),
                "ORDERS_DATABASE_URL": pg.create_database("orders")}
    else:
        urls = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}",
                "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}"}
    env = {**urls, "AMQP_URL": broker.url, "JWT_JWKS_URL": jwks_url, "LOG_LEVEL": "WARNING",
           "EVENTS_RELAY_IDLE_SECONDS": "0.05"}
    with _platform(env, data) as procs:
        db = Database(env["ORDERS_DATABASE_URL"])
        try:
            product = requests.post(f"{procs['catalog'].base_url}/products",
                                    headers=minter.bearer(roles=["admin"]), timeout=10,
                                    json={"name": "Bench beans", "price_cents": 1000, "currency": "EUR",
                                          "stock": 1_000_000}).json()["id"]
            _warm_up(procs["orders"].base_url, product, minter, db)
            roots = {"orders": procs["orders"].pid, "orders-worker": procs["orders-worker"].pid,
                     "catalog": procs["catalog"].pid, "catalog-worker": procs["catalog-worker"].pid,
                     "rabbitmq": _broker_pid(broker)}
            if pg is not None and kind == "postgresql":
                roots["postgresql"] = _postmaster_pid(pg)
            meter = _cpu.Meter(roots).start()
            client_before, wall_before = _self_cpu(), time.monotonic()
            due_of, failures, post_ms = _send(procs["orders"].base_url, product, minter, RATE)
            client_cpu = _self_cpu() - client_before
            deadline = time.monotonic() + DRAIN
            rows = _states(db)
            while time.monotonic() < deadline and _pending(rows, due_of):
                time.sleep(0.2)
                rows = _states(db)
            used = meter.stop()
            wall = time.monotonic() - wall_before
        finally:
            db.dispose()
    offered = int(RATE * SECONDS)
    done = {oid: rows[oid][1] for oid in due_of if rows.get(oid, ("",))[0] == "confirmed"}
    latencies = [(at - due_of[oid]) * 1000 for oid, at in done.items()]
    confirmed = max(len(done), 1)
    span = (max(done.values()) - min(due_of.values())) if done else float("nan")
    return {
        "offered_per_s": RATE, "seconds": SECONDS, "offered": offered, "accepted": len(due_of),
        "failed_posts": failures, "confirmed": len(done),
        "still_pending": sum(rows.get(o, ("pending",))[0] == "pending" for o in due_of),
        "confirmed_pct": round(100 * len(done) / max(offered, 1), 2),
        "confirmed_per_s": round(len(done) / span, 1) if done else 0.0,
        "post_p50_ms": round(_percentile(post_ms, 0.5), 1),
        "confirmed_p50_ms": round(_percentile(latencies, 0.5), 1),
        "confirmed_p99_ms": round(_percentile(latencies, 0.99), 1),
        "cpu_ms_per_confirmed": round(1000 * sum(used.values()) / confirmed, 2),
        "cpu_ms_per_confirmed_by_process": {k: round(1000 * v / confirmed, 2) for k, v in used.items()},
        "platform_cpu_utilisation": round(_cpu.utilisation(sum(used.values()), wall), 3),
        "client_cpu_ms_per_order": round(1000 * client_cpu / max(len(post_ms), 1), 2),
    }


def main() -> dict[str, Any]:
    minter = TokenMinter()
    jwks_url, jwks_server = _serve_jwks(minter)
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    try:
        for kind in DATABASES:
            # A broker per row: events one row left queued must not reach the next row's workers.
            broker = RabbitMQServer().start()
            pg = PostgresServer().start() if kind == "postgresql" else None
            try:
                results[kind] = run_one(kind, broker, minter, jwks_url, pg)
            except Exception as exc:  # the other database's row still counts
                failed[kind] = f"{type(exc).__name__}: {exc}"[:1000]
                print(f"saga on {kind} FAILED: {failed[kind]}", flush=True)
            finally:
                broker.close()
                if pg is not None:
                    pg.stop()
    finally:
        jwks_server.shutdown()
    if not results:
        raise RuntimeError(f"the saga ran on no database: {failed}")
    print(f"saga: gunicorn x2 per API, one worker per service, {RATE:g} orders/s offered for {SECONDS:g}s, "
          "open loop; CPU summed over every process")
    print(f"{'database':<11} {'offered':>7} {'confirmed %':>11} {'conf/s':>7} {'POST p50':>8} "
          f"{'->confirmed p50':>15} {'p99 ms':>8} {'CPU ms/order':>12} {'client ms':>9}")
    for kind, r in results.items():
        print(f"{kind:<11} {r['offered']:>7} {r['confirmed_pct']:>11.2f} {r['confirmed_per_s']:>7.1f} "
              f"{r['post_p50_ms']:>8.1f} {r['confirmed_p50_ms']:>15.1f} {r['confirmed_p99_ms']:>8.1f} "
              f"{r['cpu_ms_per_confirmed']:>12.2f} {r['client_cpu_ms_per_order']:>9.2f}")
        print(f"{'':<11} CPU ms per confirmed order by process: {r['cpu_ms_per_confirmed_by_process']}")
    return {**results, **({"failed": failed} if failed else {})}


def _warm_up(orders_url: str, product: str, minter: TokenMinter, db: Database) -> int:
    """A few orders through the whole path before measuring (imports, connections, queues)."""
    headers = minter.bearer(uuid.uuid4())
    ids = [requests.post(f"{orders_url}/orders", json={"items": [{"product_id": product, "quantity": 1}]},
                         headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=10).json()["id"]
           for _ in range(5)]
    wait_for(lambda: all(_states(db).get(i, ("pending",))[0] == "confirmed" for i in ids), timeout=60,
             interval=0.2, what="warm-up orders confirmed")
    return len(ids)
