"""Catalog unreachable, or its breaker open: 503 with Retry-After, and nothing stored."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, select

import catalog
from catalog.config import CatalogSettings
from flotilla import migrations
from orders import MIGRATIONS, create_app
from orders.bootstrap import orders_of
from orders.config import OrdersSettings
from orders.repository import orders as orders_table
from orders.repository import outbox

from ..conftest import ServedApp, catalog_client


@pytest.fixture
def flaky_catalog(tmp_path, minter):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrations.upgrade(catalog.MIGRATIONS, url)
    served = ServedApp(catalog.create_app(CatalogSettings(database_url=url, log_format="console"),
                                          key_source=minter.key_source())).start()
    yield served
    served.stop()


@pytest.fixture
def orders_app(database_url, minter, flaky_catalog):
    migrations.upgrade(MIGRATIONS, database_url)
    app = create_app(OrdersSettings(database_url=database_url, log_format="console"),
                     key_source=minter.key_source(),
                     catalog=catalog_client(flaky_catalog.url, timeout=0.5, failures=2, reset=30))
    yield app
    orders_of(app).db.dispose()


def _stored(app) -> tuple[int, int]:
    with orders_of(app).db.session() as session:
        return (session.execute(select(func.count()).select_from(orders_table)).scalar_one(),
                session.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_catalog_down_is_503_with_retry_after_then_the_breaker_answers_fast(orders_app, flaky_catalog,
                                                                            minter):
    admin = flaky_catalog.app.test_client()
    pid = admin.post("/products", json={"name": "A", "price_cents": 1, "currency": "EUR", "stock": 1},
                     headers=minter.bearer(roles=["admin"])).json["id"]
    client, headers = orders_app.test_client(), minter.bearer(uuid.uuid4())
    flaky_catalog.stop()
    statuses, elapsed = [], []
    for _ in range(4):
        started = time.monotonic()
        response = client.post("/orders", json={"items": [{"product_id": pid, "quantity": 1}]},
                               headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        elapsed.append(time.monotonic() - started)
        statuses.append(response.status_code)
        assert response.mimetype == "application/problem+json"
        assert int(response.headers["Retry-After"]) >= 1
    print(f"\ncatalog down: statuses {statuses}, seconds per call {[round(e, 3) for e in elapsed]}")
    assert statuses == [503] * 4
    breakers = orders_of(orders_app).catalog_client().http.breakers.states()
    assert set(breakers.values()) == {"open"}, breakers  # the last calls never reached catalog
    assert max(elapsed[2:]) < 0.5
    assert int(response.headers["Retry-After"]) > 1  # the breaker's remaining open time
    assert _stored(orders_app) == (0, 0)
