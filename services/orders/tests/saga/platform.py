"""Catalog and orders as they run in production, on one test's databases and the session's
RabbitMQ: both APIs served over HTTP on loopback, both workers as real processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pika
import requests
from sqlalchemy import func, select

import catalog
import orders
import users
from catalog.audit import audit
from catalog.bootstrap import catalog_of
from catalog.config import CatalogSettings
from catalog.ledger import stock_movements
from catalog.repository import products
from flotilla import migrations
from flotilla.events.topology import EXCHANGE
from flotilla.testing import wait_for
from flotilla.testing.tokens import TokenMinter
from orders.bootstrap import orders_of
from orders.config import OrdersSettings
from orders.repository import orders as orders_table
from users.bootstrap import users_of
from users.config import UsersSettings

from ..conftest import ServedApp, catalog_client
from .processes import WorkerProcess

QUEUES = [f"{svc}{suffix}" for svc in ("catalog", "orders", "users")
          for suffix in ("", ".dlq", ".retry.100ms", ".retry.200ms")]


class Platform:
    def __init__(self, amqp_url: str, catalog_db: str, orders_db: str, users_db: str, minter: TokenMinter,
                 tmp_path: Path, **env: str) -> None:
        self.amqp_url, self.minter, self.tmp_path = amqp_url, minter, tmp_path
        self.env = {**os.environ, "AMQP_URL": amqp_url, "CATALOG_DATABASE_URL": catalog_db,
                    "ORDERS_DATABASE_URL": orders_db, "USERS_DATABASE_URL": users_db,
                    "EVENTS_RETRY_DELAYS_MS": "100,200",
                    "EVENTS_RELAY_IDLE_SECONDS": "0.05", "EVENTS_RECONNECT_MAX_SECONDS": "1",
                    "ORDERS_PENDING_TIMEOUT_SECONDS": "120", "ORDERS_SWEEP_INTERVAL_SECONDS": "0.2",
                    "LOG_FORMAT": "console", **env}
        self.delete_queues()
        migrations.upgrade(catalog.MIGRATIONS, catalog_db)
        migrations.upgrade(orders.MIGRATIONS, orders_db)
        self.catalog_app = catalog.create_app(CatalogSettings(database_url=catalog_db, log_format="console"),
                                              key_source=minter.key_source())
        self.catalog_api = ServedApp(self.catalog_app).start()
        self.orders_app = orders.create_app(
            OrdersSettings(database_url=orders_db, log_format="console"), key_source=minter.key_source(),
            catalog=catalog_client(self.catalog_api.url, timeout=1.0, failures=3, reset=0.5))
        self.orders_api = ServedApp(self.orders_app).start()
        self.catalog_db = catalog_of(self.catalog_app).db
        self.orders_db = orders_of(self.orders_app).db
        self.catalog_worker = WorkerProcess("catalog-worker", self.env, tmp_path)
        self.orders_worker = WorkerProcess("orders-worker", self.env, tmp_path)
        self.users_worker = WorkerProcess("users-worker", self.env, tmp_path)  # started on demand
        self.users_app: Any = None
        self.http = requests.Session()

    def start_users(self) -> Any:
        """The real users service (app in process, ``users-worker`` relaying its outbox)."""
        if self.users_app is None:
            url = self.env["USERS_DATABASE_URL"]
            migrations.upgrade(users.MIGRATIONS, url)
            self.users_app = users.create_app(UsersSettings(database_url=url, log_format="console"))
            self.users_worker.start()
        return self.users_app

    def start_workers(self) -> Platform:
        for worker in (self.catalog_worker, self.orders_worker):
            worker.spawn()
        for worker in (self.catalog_worker, self.orders_worker):
            worker.wait_ready()
        return self

    def close(self) -> None:
        for worker in (self.orders_worker, self.catalog_worker, self.users_worker):
            worker.terminate()
        for part in (self.users_worker, self.orders_worker, self.catalog_worker, self.orders_api,
                     self.catalog_api):
            part.stop()
        if self.users_app is not None:
            users_of(self.users_app).db.dispose()
        self.http.close()
        self.delete_queues()
        self.catalog_db.dispose()
        self.orders_db.dispose()

    def delete_queues(self) -> None:
        """Each test starts from empty queues: nothing left over from another test."""
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = conn.channel()
            for queue in QUEUES:
                channel.queue_delete(queue)
        finally:
            conn.close()

    # --- acting as clients -------------------------------------------------------------

    def product(self, stock: int, price_cents: int = 1000) -> str:
        response = self.catalog_app.test_client().post(
            "/products", json={"name": f"P-{uuid.uuid4().hex[:6]}", "price_cents": price_cents,
                               "currency": "EUR", "stock": stock},
            headers=self.minter.bearer(roles=["admin"]))
        assert response.status_code == 201, response.json
        return str(response.json["id"])

    def customer(self) -> tuple[uuid.UUID, dict[str, str]]:
        user_id = uuid.uuid4()
        return user_id, self.minter.bearer(user_id)

    def place(self, headers: dict[str, str], items: list[tuple[str, int]],
              key: str | None = None) -> requests.Response:
        return self.http.post(f"{self.orders_api.url}/orders",
                              json={"items": [{"product_id": p, "quantity": q} for p, q in items]},
                              headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}, timeout=10)

    def cancel(self, headers: dict[str, str], order_id: str) -> requests.Response:
        return self.http.post(f"{self.orders_api.url}/orders/{order_id}/cancel", headers=headers, timeout=10)

    def publish(self, routing_key: str, body: str | bytes, message_id: str) -> None:
        """Put a message on the exchange as a producer's relay would (for duplicates and
        for events of services these tests do not run)."""
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = conn.channel()
            channel.confirm_delivery()
            props = pika.BasicProperties(content_type="application/cloudevents+json", delivery_mode=2,
                                         message_id=message_id, type=routing_key)
            channel.basic_publish(EXCHANGE, routing_key, body, props, mandatory=True)
        finally:
            conn.close()

    # --- observing ----------------------------------------------------------------------

    def statuses(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        """How many orders (of ``ids``, or all) are in each status."""
        c = orders_table.c
        stmt = select(c.status, func.count()).group_by(c.status)
        if ids is not None:
            stmt = stmt.where(c.id.in_([uuid.UUID(i) for i in ids]))
        with self.orders_db.session() as session:
            return {s: n for s, n in session.execute(stmt)}

    def status_of(self, order_id: str) -> tuple[str, str | None]:
        c = orders_table.c
        with self.orders_db.session() as session:
            row = session.execute(select(c.status, c.reason).where(c.id == uuid.UUID(order_id))).one()
        return row.status, row.reason

    def wait_none_pending(self, ids: Iterable[str] | None = None, timeout: float = 30) -> dict[str, int]:
        wait_for(lambda: self.statuses(ids).get("pending", 0) == 0, timeout=timeout, interval=0.1,
                 what="every order to leave pending")
        return self.statuses(ids)

    def stock(self, product_id: str) -> int:
        with self.catalog_db.session() as session:
            return int(session.execute(select(products.c.stock)
                                       .where(products.c.id == uuid.UUID(product_id))).scalar_one())

    def audit_discrepancies(self) -> int:
        return sum(not row.ok for row in audit(self.catalog_db))

    def double_reservations(self) -> int:
        """(order, product) pairs whose stock was taken more than once."""
        m = stock_movements.c
        pairs = (select(m.order_id, m.product_id).where(m.kind == "reserve")
                 .group_by(m.order_id, m.product_id).having(func.count() > 1)).subquery()
        with self.catalog_db.session() as session:
            return int(session.execute(select(func.count()).select_from(pairs)).scalar_one())

    def outbox_rows(self, db: Any, table: Any, event_type: str,
                    aggregates: Iterable[str] | None = None) -> list[Any]:
        stmt = select(table.c.message_id, table.c.envelope).where(table.c.event_type == event_type)
        if aggregates is not None:
            stmt = stmt.where(table.c.aggregate_id.in_(list(aggregates)))
        with db.session() as session:
            return list(session.execute(stmt))
