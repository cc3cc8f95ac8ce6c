"""Stock reservations for orders: every line or none, keyed by order id, in one transaction.

A reservation row is the catalog's memory of an order:

- ``reserved``: its lines' stock is held (taken off ``products.stock``);
- ``rejected``: not every line could be held, nothing was taken;
- ``released``: it was held, then given back when the order was cancelled;
- ``void``: the cancellation arrived before the order itself; a late ``order.placed``
  then reserves nothing.

Because the row is keyed by order id, a second ``order.placed`` or ``order.cancelled``
for the same order (a duplicate, or one arriving out of order) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from catalog.ledger import movement
from catalog.model import Product
from catalog.repository import ProductRepository, metadata, products
from flotilla.db import UTCDateTime, utcnow

RESERVED, REJECTED, RELEASED, VOID = "reserved", "rejected", "released", "void"

reservations = Table(
    "reservations", metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('reserved', 'rejected', 'released', 'void')", name="ck_reservations_status"),
)

reservation_lines = Table(
    "reservation_lines", metadata,
    Column("order_id", Uuid, ForeignKey("reservations.order_id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", Uuid, primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
)


@dataclass(frozen=True)
class Line:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Refusal:
    product_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class Decision:
    """What ``reserve`` decided; ``None`` from it means the order was decided before."""

    reserved: bool
    lines: list[Line]
    refusals: list[Refusal]


class ReservationStore(Protocol):
    """What the reservation rules read and write; :class:`SqlReservations` in production,
    an in-memory one in the unit tests."""

    def status(self, order_id: uuid.UUID) -> str | None: ...
    def record(self, order_id: uuid.UUID, status: str, reason: str | None = None) -> None: ...
    def product(self, product_id: uuid.UUID, *, withdrawn_too: bool = False) -> Product | None: ...
    def hold(self, order_id: uuid.UUID, lines: Sequence[Line]) -> None: ...
    def held(self, order_id: uuid.UUID) -> list[Line]: ...
    def released(self, order_id: uuid.UUID) -> None: ...
    def movement(self, kind: str, order_id: uuid.UUID) -> AbstractContextManager[None]: ...


# Statements built once, values bound per call: building them per message was a good part of
# the catalog worker's CPU per order (docs/performance.md).
_STATUS = (select(reservations.c.status).where(reservations.c.order_id == bindparam("order_id"))
           .with_for_update())
_RECORD = insert(reservations)
_HOLD = insert(reservation_lines)
_HELD = (select(reservation_lines.c.product_id, reservation_lines.c.quantity)
         .where(reservation_lines.c.order_id == bindparam("order_id"))
         .order_by(reservation_lines.c.product_id))
_RELEASED = (update(reservations).where(reservations.c.order_id == bindparam("released_order"))
             .values(status=RELEASED, updated_at=bindparam("now", type_=UTCDateTime)))


class SqlReservations:
    """The store on the consumer's transaction (rows locked ``FOR UPDATE``)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.products = ProductRepository(session)

    def status(self, order_id: uuid.UUID) -> str | None:
        return self.session.execute(_STATUS, {"order_id": order_id}).scalar_one_or_none()

    def record(self, order_id: uuid.UUID, status: str, reason: str | None = None) -> None:
        now = utcnow()
        self.session.execute(_RECORD, {"order_id": order_id, "status": status, "reason": reason,
                                       "created_at": now, "updated_at": now})

    def product(self, product_id: uuid.UUID, *, withdrawn_too: bool = False) -> Product | None:
        if not withdrawn_too:
            return self.products.get(product_id, for_update=True)
        stmt = select(Product).where(products.c.id == product_id).with_for_update()
        return self.session.scalars(stmt).one()

    def hold(self, order_id: uuid.UUID, lines: Sequence[Line]) -> None:
        self.session.execute(_HOLD, [
            {"order_id": order_id, "product_id": li.product_id, "quantity": li.quantity} for li in lines])

    def held(self, order_id: uuid.UUID) -> list[Line]:
        return [Line(r.product_id, r.quantity) for r in self.session.execute(_HELD, {"order_id": order_id})]

    def released(self, order_id: uuid.UUID) -> None:
        self.session.execute(_RELEASED, {"released_order": order_id, "now": utcnow()})

    def movement(self, kind: str, order_id: uuid.UUID) -> AbstractContextManager[None]:
        return movement(self.session, kind, order_id)


def _store(where: Session | ReservationStore) -> ReservationStore:
    return SqlReservations(where) if isinstance(where, Session) else where


def reserve(where: Session | ReservationStore, order_id: uuid.UUID, lines: Sequence[Line]) -> Decision | None:
    """Hold every line or none. Products are locked in id order (no deadlocks between orders)."""
    store = _store(where)
    if store.status(order_id) is not None:
        return None
    ordered = sorted(lines, key=lambda li: li.product_id)
    found: dict[uuid.UUID, Product | None] = {li.product_id: store.product(li.product_id) for li in ordered}
    refusals = []
    for li in lines:
        product = found[li.product_id]
        if product is None:
            refusals.append(Refusal(li.product_id, "unknown or withdrawn product"))
        elif product.stock < li.quantity:
            refusals.append(Refusal(li.product_id, f"insufficient stock: {li.quantity} requested, "
                                                   f"{product.stock} available"))
    if refusals:
        store.record(order_id, REJECTED, "; ".join(f"{r.product_id}: {r.reason}" for r in refusals))
        return Decision(False, list(lines), refusals)
    store.record(order_id, RESERVED)
    with store.movement("reserve", order_id):
        for li in ordered:
            product = found[li.product_id]
            assert product is not None
            product.adjust_stock(-li.quantity)
    store.hold(order_id, ordered)
    return Decision(True, list(lines), [])


def release(where: Session | ReservationStore, order_id: uuid.UUID) -> list[Line] | None:
    """Give back what the order holds; the lines released, or ``None`` when nothing was held."""
    store = _store(where)
    status = store.status(order_id)
    if status is None:
        store.record(order_id, VOID, "cancelled before it was seen placed")
        return None
    if status != RESERVED:
        return None
    held = store.held(order_id)
    with store.movement("release", order_id):
        for li in held:
            # A withdrawn product's units still come back: the audit counts them.
            product = store.product(li.product_id, withdrawn_too=True)
            assert product is not None
            product.adjust_stock(li.quantity)
    store.released(order_id)
    return held
