"""Orders' tables, their mapping onto the model, and the repository."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Insert,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, lazyload, registry, relationship

from flotilla.db import UTCDateTime
from flotilla.events import inbox_table, outbox_table
from orders.model import Order, OrderLine, OrderStatus

metadata = MetaData()

orders = Table(
    "orders", metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("idempotency_key", String(200), nullable=True),  # NULL once purged (expired)
    Column("request_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
    CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'cancelled')",
                    name="ck_orders_status"),
    Index("ix_orders_user_listing", "user_id", "created_at", "id"),
    Index("ix_orders_listing", "created_at", "id"),
    Index("ix_orders_idempotency_expiry", "created_at",
          postgresql_where=text("idempotency_key IS NOT NULL"),
          sqlite_where=text("idempotency_key IS NOT NULL")),
    Index("ix_orders_status_created", "status", "created_at"),
)

order_lines = Table(
    "order_lines", metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    UniqueConstraint("order_id", "product_id", name="uq_order_lines_product"),
    CheckConstraint("quantity > 0", name="ck_order_lines_quantity_positive"),
)

#: Customers whose ``user.deleted`` was handled: an order of theirs that slipped in after it
#: (its token verified before the revocation reached orders) is cancelled by the sweeper.
erased_customers = Table(
    "erased_customers", metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("erased_at", UTCDateTime, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

_mappers = registry(metadata=metadata)


def start_mappers() -> None:
    """Map the model onto the tables, once per process."""
    if not _mappers.mappers:
        _mappers.map_imperatively(OrderLine, order_lines)
        _mappers.map_imperatively(Order, orders, version_id_col=orders.c.version, properties={
            "lines": relationship(OrderLine, order_by=order_lines.c.line_no, lazy="selectin",
                                  cascade="all, delete-orphan"),
        })


@functools.cache
def _insert_order() -> Insert:
    return insert(orders)


@functools.cache
def _insert_lines() -> Insert:
    return insert(order_lines)


@functools.cache
def _get_statement(for_update: bool, lines: bool) -> Select[tuple[Order]]:
    """Built once, after the mappers started (building a select per call is a good part of it)."""
    stmt = select(Order).where(orders.c.id == bindparam("order_id"))
    if not lines:
        stmt = stmt.options(lazyload(Order.lines))
    return stmt.with_for_update() if for_update else stmt


@functools.cache
def _key_statement() -> Select[tuple[uuid.UUID]]:
    return select(orders.c.id).where(orders.c.user_id == bindparam("user_id"),
                                     orders.c.idempotency_key == bindparam("key"))


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order: Order) -> None:
        """Write a new order and its lines now, with two prepared INSERTs (the ORM's flush of a
        new order was a tenth of ``POST /orders``, docs/performance.md). A duplicate
        Idempotency-Key raises ``IntegrityError`` here. The order is not tracked by the session:
        changes to it later in the same transaction are not written."""
        self.session.execute(_insert_order(), {c.key: getattr(order, c.key) for c in orders.c})
        self.session.execute(_insert_lines(), [
            {"order_id": order.id, "line_no": li.line_no, "product_id": li.product_id, "name": li.name,
             "quantity": li.quantity, "price_cents": li.price_cents, "currency": li.currency}
            for li in order.lines])

    def get(self, order_id: uuid.UUID, *, for_update: bool = False, lines: bool = True) -> Order | None:
        """``for_update``: locked (PostgreSQL). ``lines=False``: the lines are loaded only if read
        in this session (the saga's moves read none: one query instead of two)."""
        stmt = _get_statement(for_update, lines)
        return self.session.scalars(stmt, {"order_id": order_id}).one_or_none()

    def by_idempotency_key(self, user_id: uuid.UUID, key: str) -> Order | None:
        found = self.session.execute(_key_statement(), {"user_id": user_id, "key": key}).first()
        if found is None:  # the common case, a new key: one indexed lookup, no mapped load
            return None
        return self.get(found.id)

    def page(self, user_id: uuid.UUID | None, status: str | None, limit: int,
             after: tuple[datetime, uuid.UUID] | None) -> list[Order]:
        """Up to ``limit`` orders (of ``user_id``, or everyone's) in (created_at, id) order."""
        c = orders.c
        stmt = select(Order)
        if user_id is not None:
            stmt = stmt.where(c.user_id == user_id)
        if status is not None:
            stmt = stmt.where(c.status == status)
        if after is not None:
            created, oid = after
            stmt = stmt.where(or_(c.created_at > created, and_(c.created_at == created, c.id > oid)))
        return list(self.session.scalars(stmt.order_by(c.created_at, c.id).limit(limit)))

    def live_ids_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        c = orders.c
        stmt = select(c.id).where(c.user_id == user_id,
                                  c.status.in_([OrderStatus.PENDING, OrderStatus.CONFIRMED]))
        return list(self.session.scalars(stmt))

    def remember_erased(self, user_id: uuid.UUID, erased_at: datetime) -> None:
        known = self.session.execute(select(erased_customers.c.user_id)
                                     .where(erased_customers.c.user_id == user_id)).first()
        if known is None:
            self.session.execute(erased_customers.insert().values(user_id=user_id, erased_at=erased_at))

    def live_ids_of_erased(self, limit: int) -> list[uuid.UUID]:
        """Live orders of customers already erased (placed after their ``user.deleted``)."""
        c = orders.c
        stmt = (select(c.id).join(erased_customers, erased_customers.c.user_id == c.user_id)
                .where(c.status.in_([OrderStatus.PENDING, OrderStatus.CONFIRMED]))
                .order_by(c.created_at).limit(limit))
        return list(self.session.scalars(stmt))

    def forget_erased_before(self, cutoff: datetime) -> int:
        result = self.session.execute(erased_customers.delete().where(erased_customers.c.erased_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    def forget_idempotency_keys_before(self, cutoff: datetime, limit: int) -> int:
        """Purge (set to NULL) up to ``limit`` idempotency keys of orders placed before ``cutoff``."""
        c = orders.c
        ids = (select(c.id).where(c.idempotency_key.is_not(None), c.created_at < cutoff)
               .order_by(c.created_at).limit(limit))
        result = self.session.execute(update(orders).where(c.id.in_(ids)).values(idempotency_key=None))
        return int(getattr(result, "rowcount", 0) or 0)  # an UPDATE's result is a CursorResult

    def pending_ids_before(self, cutoff: datetime, limit: int) -> list[uuid.UUID]:
        c = orders.c
        stmt = (select(c.id).where(c.status == OrderStatus.PENDING, c.created_at < cutoff)
                .order_by(c.created_at).limit(limit))
        return list(self.session.scalars(stmt))
