"""Orders' saga handlers and sweeper against a real database (SQLite, PostgreSQL), no broker:
each delivery runs in its own transaction, as the consumer runs it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from flotilla.db import utcnow
from flotilla.events.envelope import wrap
from orders.bootstrap import orders_of
from orders.events import StockRejected, StockReserved, UserDeleted
from orders.model import Order, OrderLine
from orders.repository import orders as orders_table
from orders.repository import outbox
from orders.saga import on_stock_rejected, on_stock_reserved, on_user_deleted
from orders.sweeper import sweep_once
from orders.unit_of_work import UnitOfWork

HANDLERS = {StockReserved: on_stock_reserved, StockRejected: on_stock_rejected, UserDeleted: on_user_deleted}


def _deliver(db, event) -> None:
    with db.session(write=True) as session:
        HANDLERS[type(event)](session, wrap(event, "/flotilla/test"), event)


def _order(db, user_id=None, status="pending") -> uuid.UUID:
    order = Order.place(user_id or uuid.uuid4(), [OrderLine(uuid.uuid4(), 1, "P", 100, "EUR")],
                        uuid.uuid4().hex, "h")
    order.status = status
    with UnitOfWork(db, write=True) as uow:
        uow.orders.add(order)
    return order.id


def _state(db, order_id) -> tuple[str, str | None, int]:
    with db.session() as session:
        row = session.execute(select(orders_table.c.status, orders_table.c.reason, orders_table.c.version)
                              .where(orders_table.c.id == order_id)).one()
    return row.status, row.reason, row.version


def _cancellations(db, order_id) -> int:
    with db.session() as session:
        stmt = select(outbox.c.id).where(outbox.c.aggregate_id == str(order_id),
                                         outbox.c.event_type == "order.cancelled.v1")
        return len(session.execute(stmt).all())


def test_reserved_confirms_once_and_rejected_after_that_changes_nothing(app):
    db = orders_of(app).db
    oid = _order(db)
    _deliver(db, StockReserved(order_id=oid))
    confirmed = _state(db, oid)
    _deliver(db, StockReserved(order_id=oid))  # the same answer again (another message id)
    _deliver(db, StockRejected(order_id=oid, lines=[]))  # a contradicting latecomer
    assert confirmed[0] == "confirmed" and _state(db, oid) == confirmed


def test_rejected_keeps_the_reason_per_line(app):
    db = orders_of(app).db
    oid, pid = _order(db), uuid.uuid4()
    _deliver(db, StockRejected(order_id=oid, lines=[{"product_id": pid, "reason": "insufficient stock"}]))
    assert _state(db, oid)[:2] == ("rejected", f"{pid}: insufficient stock")


def test_a_late_reservation_for_a_cancelled_order_asks_for_its_release(app):
    db = orders_of(app).db
    oid = _order(db, status="cancelled")
    _deliver(db, StockReserved(order_id=oid))
    assert _state(db, oid)[0] == "cancelled" and _cancellations(db, oid) == 1


def test_user_deleted_cancels_only_that_users_live_orders(app):
    db = orders_of(app).db
    user = uuid.uuid4()
    live = [_order(db, user), _order(db, user, "confirmed")]
    final = _order(db, user, "rejected")
    stranger = _order(db)
    _deliver(db, UserDeleted(user_id=user))
    _deliver(db, UserDeleted(user_id=user))
    assert [_state(db, o)[0] for o in live] == ["cancelled", "cancelled"]
    assert [_cancellations(db, o) for o in live] == [1, 1]
    assert (_state(db, final)[0], _state(db, stranger)[0]) == ("rejected", "pending")


def test_the_sweeper_cancels_only_orders_pending_too_long_in_batches(app):
    db = orders_of(app).db
    old = [_order(db) for _ in range(3)]
    fresh, confirmed = _order(db), _order(db, status="confirmed")
    with db.session(write=True) as session:
        session.execute(update(orders_table).where(orders_table.c.id.in_([*old, confirmed]))
                        .values(created_at=utcnow() - timedelta(hours=1)))
    assert sweep_once(db, timeout_s=60, batch=2) == 2
    assert sweep_once(db, timeout_s=60, batch=2) == 1
    assert sweep_once(db, timeout_s=60, batch=2) == 0
    assert {_state(db, o)[1] for o in old} == {"not confirmed within 60 seconds"}
    assert (_state(db, fresh)[0], _state(db, confirmed)[0]) == ("pending", "confirmed")
