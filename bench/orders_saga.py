"""The order saga end to end: orders per second from placed to confirmed, and the time
from ``POST /orders`` to ``confirmed`` (p50/p99), at a fixed offered rate.

Everything real, on this machine: RabbitMQ (the test harness's node), catalog and orders
under gunicorn (2 workers each, SQLite), ``catalog-worker`` and ``orders-worker``, and a
JWKS endpoint for the tokens. Orders are sent open-loop: order *i* is due at
``start + i / rate`` and its latency counts from that due time (no coordinated omission).
The time an order became confirmed is its ``updated_at`` in orders' database (set by the
worker when ``stock.reserved`` arrives).
Settings: BENCH_ORDER_RATES (orders/s offered, one row each, default 20,50), BENCH_SECONDS
(default 10).
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests
from flask import Flask, jsonify
from sqlalchemy import select
from werkzeug.serving import make_server

from flotilla.db import Database
from flotilla.testing import free_port, wait_for
from flotilla.testing.processes import GunicornProcess
from flotilla.testing.rabbitmq import RabbitMQServer
from flotilla.testing.tokens import TokenMinter
from orders.repository import orders as orders_table

RATES = [float(r) for r in os.environ.get("BENCH_ORDER_RATES", "20,50").split(",") if r.strip()]
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BIN = Path(sys.executable).parent


def _serve_jwks(minter: TokenMinter) -> tuple[str, object]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = Flask("jwks")
    app.get("/auth/jwks.json")(lambda: jsonify(minter.jwks()))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/auth/jwks.json", server


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


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
            response = session.post(f"{orders_url}/orders", timeout=10,
                                    json={"items": [{"product_id": product_id, "quantity": 1}]},
                                    headers={**headers[index % 8], "Idempotency-Key": uuid.uuid4().hex})
            with lock:
                post_ms.append((time.time() - due) * 1000)
                if response.status_code == 202:
                    due_of[response.json()["id"]] = due
                else:
                    failures += 1

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return due_of, failures, post_ms


def _confirmed_at(db: Database) -> dict[str, tuple[str, datetime]]:
    c = orders_table.c
    with db.session() as session:
        rows = session.execute(select(c.id, c.status, c.updated_at))
        return {str(r.id): (r.status, r.updated_at) for r in rows}


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    broker = RabbitMQServer().start()
    minter = TokenMinter()
    jwks_url, jwks_server = _serve_jwks(minter)
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "AMQP_URL": broker.url,
           "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}", "JWT_JWKS_URL": jwks_url,
           "LOG_LEVEL": "WARNING", "EVENTS_RELAY_IDLE_SECONDS": "0.05"}
    full_env = {**os.environ, **env}
    for service in ("catalog", "orders"):
        subprocess.run([str(BIN / service), "migrate"], check=True, env=full_env, capture_output=True)
    catalog = GunicornProcess("catalog:create_app()", env=env, workers=2).start()
    orders = GunicornProcess("orders:create_app()", env={**env, "CATALOG_URL": catalog.base_url},
                             workers=2).start()
    ports = {"catalog-worker": free_port(), "orders-worker": free_port()}
    workers = [subprocess.Popen([str(BIN / name), "run"], env={**full_env, "WORKER_PORT": str(port)},
                                stdout=(data / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
               for name, port in ports.items()]
    for port in ports.values():  # each worker's queues exist before any event is sent to them
        wait_for(lambda port=port: requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).ok,
                 timeout=60, interval=0.2, what="worker readiness")
    db = Database(env["ORDERS_DATABASE_URL"])
    try:
        product = requests.post(f"{catalog.base_url}/products", headers=minter.bearer(roles=["admin"]),
                                json={"name": "Bench beans", "price_cents": 1000, "currency": "EUR",
                                      "stock": 1_000_000}, timeout=10).json()["id"]
        warm = _warm_up(orders.base_url, product, minter, db)
        print(f"saga: SQLite, gunicorn x2 per API, one worker per service, {SECONDS:g}s per rate; "
              f"{warm} warm-up orders first")
        print(f"{'offered/s':>9} {'placed':>7} {'confirmed':>9} {'failed':>6} {'confirmed/s':>11} "
              f"{'POST p50 ms':>11} {'->confirmed p50 ms':>18} {'p99 ms':>8}")
        for rate in RATES:
            _measure(orders.base_url, product, minter, db, rate)
    finally:
        db.dispose()
        for proc in workers:
            proc.terminate()
            proc.wait(timeout=30)
        orders.stop()
        catalog.stop()
        jwks_server.shutdown()  # type: ignore[attr-defined]
        broker.close()


def _measure(orders_url: str, product: str, minter: TokenMinter, db: Database, rate: float) -> None:
    due_of, failures, post_ms = _send(orders_url, product, minter, rate)
    wait_for(lambda: all(s != "pending" for oid, (s, _) in _confirmed_at(db).items() if oid in due_of),
             timeout=120, interval=0.2, what="every order to leave pending")
    rows = _confirmed_at(db)
    done = {oid: rows[oid][1].timestamp() for oid in due_of if rows[oid][0] == "confirmed"}
    latencies = [(at - due_of[oid]) * 1000 for oid, at in done.items()]
    span = max(done.values()) - min(due_of.values())
    print(f"{rate:>9.1f} {len(due_of):>7} {len(done):>9} {failures:>6} {len(done) / span:>11.1f} "
          f"{statistics.median(post_ms):>11.1f} {statistics.median(latencies):>18.1f} "
          f"{_percentile(latencies, 0.99):>8.1f}", flush=True)


def _warm_up(orders_url: str, product: str, minter: TokenMinter, db: Database) -> int:
    """A few orders through the whole path before measuring (imports, connections, queues)."""
    headers = minter.bearer(uuid.uuid4())
    ids = [requests.post(f"{orders_url}/orders", json={"items": [{"product_id": product, "quantity": 1}]},
                         headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=10).json()["id"]
           for _ in range(5)]
    wait_for(lambda: all(_confirmed_at(db).get(i, ("pending",))[0] == "confirmed" for i in ids), timeout=60,
             interval=0.2, what="warm-up orders confirmed")
    return len(ids)
