"""Orders' use cases. They take a unit-of-work factory, collaborators and plain values
(the caller, the token to pass on), never a request nor a ``Database``."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from sqlalchemy.exc import IntegrityError

from flotilla.auth import Caller
from flotilla.pagination import encode_cursor
from flotilla.unit_of_work import UnitOfWorkFactory
from orders import metrics
from orders.catalog_client import CatalogClient
from orders.events import OrderCancelled, OrderPlaced, PlacedLine
from orders.model import IdempotencyKeyReused, Order, OrderLine, OrderNotFound, OrderStatus
from orders.unit_of_work import UnitOfWork

Uow: TypeAlias = UnitOfWorkFactory[UnitOfWork]


class UnknownProducts(Exception):
    """Some ordered products do not exist (or were deleted)."""

    def __init__(self, product_ids: Sequence[uuid.UUID]) -> None:
        self.product_ids = list(product_ids)
        super().__init__("Unknown products: " + ", ".join(str(p) for p in self.product_ids) + ".")


@dataclass(frozen=True)
class Item:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Placed:
    order: Order
    created: bool  # False when the Idempotency-Key named an order placed before


@dataclass(frozen=True)
class Page:
    items: list[Order]
    next_cursor: str | None


def request_hash(items: Sequence[Item]) -> str:
    """A fingerprint of the request body, to tell a retry from a different request."""
    canonical = json.dumps([[str(i.product_id), i.quantity] for i in items], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(existing: Order, fingerprint: str) -> Placed:
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different order; use a new key for a new order.")
    return Placed(existing, created=False)


def place_order(uow: Uow, catalog: CatalogClient, user_id: uuid.UUID, key: str,
                items: Sequence[Item], *, token: str | None = None) -> Placed:
    """Price the items from catalog, store the order ``pending`` and announce ``order.placed``.

    Nothing is stored when catalog cannot answer (``UpstreamUnavailable`` propagates).
    ``token``: the caller's ``Authorization`` value, passed on to catalog.
    """
    fingerprint = request_hash(items)
    with uow() as tx:
        existing = tx.orders.by_idempotency_key(user_id, key)
    if existing is not None:
        return _replay(existing, fingerprint)
    products = catalog.products([i.product_id for i in items], authorization=token)
    missing = [i.product_id for i in items if i.product_id not in products]
    if missing:
        raise UnknownProducts(missing)
    lines = [OrderLine(product_id=i.product_id, quantity=i.quantity, name=products[i.product_id].name,
                       price_cents=products[i.product_id].price_cents,
                       currency=products[i.product_id].currency) for i in items]
    order = Order.place(user_id, lines, key, fingerprint)
    try:
        event = placed_event(order)
        with uow(write=True) as tx:
            # The outbox row first: its envelope is built before the first statement opens the
            # write transaction, so SQLite's write lock is held for the inserts alone.
            tx.outbox.add(event, order.id)
            tx.orders.add(order)
            metrics.placed(tx.session)
    except IntegrityError:  # the same key raced us; the first request won
        with uow() as tx:
            existing = tx.orders.by_idempotency_key(user_id, key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return Placed(order, created=True)


def placed_event(order: Order) -> OrderPlaced:
    return OrderPlaced(
        order_id=order.id, user_id=order.user_id, total_cents=order.total_cents,
        currency=order.currency, placed_at=order.created_at,
        lines=[PlacedLine(product_id=li.product_id, quantity=li.quantity, name=li.name,
                          price_cents=li.price_cents, currency=li.currency) for li in order.lines])


def _visible(uow: UnitOfWork, caller: Caller, order_id: uuid.UUID, *, for_update: bool = False) -> Order:
    order = uow.orders.get(order_id, for_update=for_update)
    if order is None or not order.visible_to(caller.user_id, caller.is_admin):
        raise OrderNotFound(order_id)  # another user's order is not found, not forbidden
    return order


def get_order(uow: Uow, caller: Caller, order_id: uuid.UUID) -> Order:
    with uow() as tx:
        return _visible(tx, caller, order_id)


def list_orders(uow: Uow, caller: Caller, *, status: str | None, limit: int,
                after: tuple[datetime, uuid.UUID] | None = None) -> Page:
    """The caller's orders; an admin's listing holds everyone's."""
    owner = None if caller.is_admin else caller.user_id
    with uow() as tx:
        rows = tx.orders.page(owner, status, limit + 1, after)
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None)


def cancel(uow: UnitOfWork, order: Order, reason: str) -> None:
    """Cancel ``order`` and ask catalog to release what it holds, in ``uow``'s transaction."""
    was_pending = order.status == OrderStatus.PENDING
    order.cancel(reason)
    metrics.moved(uow.session, order, was_pending=was_pending)
    uow.outbox.add(OrderCancelled(order_id=order.id, user_id=order.user_id, reason=reason), order.id)


def cancel_order(uow: Uow, caller: Caller, order_id: uuid.UUID) -> Order:
    """Cancel on behalf of the owner (or an admin); ``InvalidTransition`` when already final."""
    with uow(write=True) as tx:
        order = _visible(tx, caller, order_id, for_update=True)
        who = "the customer" if order.user_id == caller.user_id else "an administrator"
        cancel(tx, order, f"cancelled by {who}")
    return order
