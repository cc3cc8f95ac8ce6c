"""The saga's rules (orders' side) on the in-memory unit of work: each answer moves an
order at most once, and a late reservation for a cancelled order is released."""

from __future__ import annotations

import uuid

import pytest

from orders import saga
from orders.events import RejectedLine, StockRejected, StockReserved, UserDeleted
from orders.model import Order, OrderLine

from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def _order(uow: FakeUnitOfWork, user_id: uuid.UUID | None = None, status: str = "pending") -> Order:
    order = Order.place(user_id or uuid.uuid4(), [OrderLine(uuid.uuid4(), 1, "P", 100, "EUR")],
                        uuid.uuid4().hex, "h")
    order.status = status
    uow.orders.add(order)
    return order


def test_reserved_confirms_a_pending_order_once(uow):
    order = _order(uow)
    saga.stock_reserved(uow, StockReserved(order_id=order.id))
    saga.stock_reserved(uow, StockReserved(order_id=order.id))
    saga.stock_rejected(uow, StockRejected(order_id=order.id))  # a contradicting latecomer
    assert order.status == "confirmed" and uow.outbox.events == []


def test_rejected_names_each_line_and_a_later_reservation_changes_nothing(uow):
    order = _order(uow)
    pid = uuid.uuid4()
    saga.stock_rejected(uow, StockRejected(order_id=order.id,
                                           lines=[RejectedLine(product_id=pid, reason="only 0 left")]))
    saga.stock_reserved(uow, StockReserved(order_id=order.id))
    assert order.status == "rejected" and order.reason == f"{pid}: only 0 left"
    assert uow.outbox.events == []


def test_a_rejection_without_lines_still_gives_a_reason(uow):
    order = _order(uow)
    saga.stock_rejected(uow, StockRejected(order_id=order.id))
    assert order.reason == "stock not available"


def test_a_late_reservation_for_a_cancelled_order_asks_catalog_to_release_it(uow):
    order = _order(uow, status="cancelled")
    order.reason = "timed out"
    saga.stock_reserved(uow, StockReserved(order_id=order.id))
    assert order.status == "cancelled"
    [(event, key)] = uow.outbox.events
    assert type(event).__name__ == "OrderCancelled" and event.reason == "timed out" and key == order.id


def test_answers_for_unknown_orders_change_nothing(uow):
    saga.stock_reserved(uow, StockReserved(order_id=uuid.uuid4()))
    saga.stock_rejected(uow, StockRejected(order_id=uuid.uuid4()))
    assert uow.orders.rows == {} and uow.outbox.events == []


def test_a_deleted_users_live_orders_are_cancelled_and_final_ones_kept(uow):
    user = uuid.uuid4()
    pending, confirmed = _order(uow, user), _order(uow, user, "confirmed")
    rejected, others = _order(uow, user, "rejected"), _order(uow)
    saga.user_deleted(uow, UserDeleted(user_id=user))
    assert (pending.status, confirmed.status) == ("cancelled", "cancelled")
    assert rejected.status == "rejected" and others.status == "pending"
    assert uow.outbox.types() == ["OrderCancelled", "OrderCancelled"]
    saga.user_deleted(uow, UserDeleted(user_id=user))  # the same message again
    assert len(uow.outbox.events) == 2
