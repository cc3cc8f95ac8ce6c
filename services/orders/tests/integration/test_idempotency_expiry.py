"""Idempotency keys are kept for their window, then purged by the sweeper (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from flotilla.db import utcnow
from orders.bootstrap import orders_of
from orders.config import SweeperSettings
from orders.model import Order, OrderLine
from orders.repository import orders as orders_table
from orders.sweeper import Sweeper, purge_idempotency_keys
from orders.unit_of_work import UnitOfWork


def _store(app, user_id, key) -> str:
    order = Order.place(user_id, [OrderLine(uuid.uuid4(), 1, "P", 100, "EUR")], key, "h")
    with UnitOfWork(orders_of(app).db, write=True) as uow:
        uow.orders.add(order)
    return str(order.id)


def _found(app, user_id, key):
    with UnitOfWork(orders_of(app).db) as uow:
        order = uow.orders.by_idempotency_key(user_id, key)
    return None if order is None else str(order.id)


def _age(app, order_id, hours):
    with orders_of(app).db.session(write=True) as session:
        session.execute(update(orders_table).where(orders_table.c.id == uuid.UUID(order_id))
                        .values(created_at=utcnow() - timedelta(hours=hours)))


def _key(app, order_id):
    with orders_of(app).db.session() as session:
        return session.execute(select(orders_table.c.idempotency_key)
                               .where(orders_table.c.id == uuid.UUID(order_id))).scalar_one()


def test_the_default_window_is_a_day():
    assert SweeperSettings().idempotency_window == 86_400


def test_a_key_is_found_within_the_window_and_reusable_once_purged(app):
    user = uuid.uuid4()
    first = _store(app, user, "k-1")
    _age(app, first, hours=23)
    db = orders_of(app).db
    assert purge_idempotency_keys(db, window_s=86_400) == 0
    assert _found(app, user, "k-1") == first  # still a replay
    _age(app, first, hours=25)
    assert purge_idempotency_keys(db, window_s=86_400) == 1
    assert _key(app, first) is None
    assert purge_idempotency_keys(db, window_s=86_400) == 0
    assert _found(app, user, "k-1") is None
    again = _store(app, user, "k-1")  # the unique (user, key) no longer holds the old order
    assert again != first
    assert _found(app, user, "k-1") == again


def test_the_sweeper_thread_purges_expired_keys(app):
    user = uuid.uuid4()
    old, fresh = (_store(app, user, k) for k in ("old", "fresh"))
    _age(app, old, hours=48)
    db = orders_of(app).db
    stop = threading.Event()
    sweeper = Sweeper(db, timeout_s=10**6, interval_s=0.05, idempotency_window_s=86_400)
    thread = threading.Thread(target=sweeper.run, args=(stop,), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if _key(app, old) is None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert _key(app, old) is None
    assert _key(app, fresh) == "fresh"

