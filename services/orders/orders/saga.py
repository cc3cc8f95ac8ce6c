"""Orders' side of the saga: catalog's answers move orders on; a deleted user's orders end.

The mappers are started once per process by the composition root (``orders.bootstrap``),
never here. Every handler runs in the consumer's transaction, with the inbox row, and is written
so that a duplicate or late message changes nothing twice:

- ``stock.reserved``: pending -> confirmed. For an order already cancelled (the
  sweeper or the owner got there first) the reservation must not leak: a fresh
  ``order.cancelled`` asks catalog to release it (catalog's release is idempotent).
- ``stock.rejected``: pending -> rejected, with the reason per line.
- ``user.deleted``: every pending or confirmed order of that user is cancelled.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session

from flotilla.db import utcnow
from flotilla.events import Envelope
from orders import metrics
from orders.events import OrderCancelled, StockRejected, StockReserved, UserDeleted, registry
from orders.model import Order, OrderStatus
from orders.service import cancel
from orders.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

__all__ = ["registry"]


def _locked(uow: UnitOfWork, order_id: uuid.UUID) -> Order | None:
    return uow.orders.get(order_id, for_update=True, lines=False)


def stock_reserved(uow: UnitOfWork, event: StockReserved) -> None:
    order = _locked(uow, event.order_id)
    if order is None:
        log.warning("stock.reserved for unknown order %s", event.order_id)
    elif order.status == OrderStatus.PENDING:
        order.confirm()
        metrics.moved(uow.session, order, was_pending=True)
    elif order.status == OrderStatus.CANCELLED:
        log.info("late reservation for cancelled order %s: asking catalog to release it", order.id)
        uow.outbox.add(OrderCancelled(order_id=order.id, user_id=order.user_id,
                                      reason=order.reason or "cancelled"), order.id)


def stock_rejected(uow: UnitOfWork, event: StockRejected) -> None:
    order = _locked(uow, event.order_id)
    if order is not None and order.status == OrderStatus.PENDING:
        reason = "; ".join(f"{li.product_id}: {li.reason}" for li in event.lines) or "stock not available"
        order.reject(reason)
        metrics.moved(uow.session, order, was_pending=True)


def user_deleted(uow: UnitOfWork, event: UserDeleted) -> None:
    uow.orders.remember_erased(event.user_id, utcnow())  # for orders that slip in later
    for order_id in uow.orders.live_ids_of_user(event.user_id):
        order = _locked(uow, order_id)
        if order is not None and order.is_live:
            cancel(uow, order, "the customer's account was deleted")


# The consumer's handlers: the rules above, in the consumer's transaction.

@registry.consumes(StockReserved)
def on_stock_reserved(session: Session, envelope: Envelope, event: StockReserved) -> None:
    stock_reserved(UnitOfWork.of(session), event)


@registry.consumes(StockRejected)
def on_stock_rejected(session: Session, envelope: Envelope, event: StockRejected) -> None:
    stock_rejected(UnitOfWork.of(session), event)


@registry.consumes(UserDeleted)
def on_user_deleted(session: Session, envelope: Envelope, event: UserDeleted) -> None:
    user_deleted(UnitOfWork.of(session), event)
