"""The stock ledger: every change of a product's stock, as a row, in the same transaction.

Rows are written by mapper events on :class:`~catalog.model.Product`, so no code path
(API, seed, reservations) can change stock without a ledger row. ``kind`` says why:
``initial`` (the product was created with stock), ``adjustment`` (an admin changed it;
the default), ``reserve`` / ``release`` (the order saga, which names the order with
:func:`movement`). The audit compares the ledger with stock on hand and reservations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Uuid, event, insert, inspect
from sqlalchemy.orm import Mapper, Session

from catalog.model import Product
from catalog.repository import metadata
from flotilla.db import UTCDateTime, utcnow

KINDS = ("initial", "adjustment", "reserve", "release")
_INFO_KEY = "catalog_stock_movement"

stock_movements = Table(
    "stock_movements", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("product_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("delta", Integer, nullable=False),
    Column("order_id", Uuid, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_stock_movements_product", "product_id"),
)


@contextmanager
def movement(session: Session, kind: str, order_id: uuid.UUID | None = None) -> Iterator[None]:
    """Stock changes flushed inside this block are recorded as ``kind`` for ``order_id``."""
    if kind not in KINDS:
        raise ValueError(f"unknown stock movement kind {kind!r}")
    session.info[_INFO_KEY] = (kind, order_id)
    try:
        yield
        session.flush()
    finally:
        session.info.pop(_INFO_KEY, None)


_INSERT = insert(stock_movements)  # built once, values bound per row


def _record(connection: Any, product_id: uuid.UUID, kind: str, delta: int,
            order_id: uuid.UUID | None) -> None:
    connection.execute(_INSERT, {"product_id": product_id, "kind": kind, "delta": delta,
                                 "order_id": order_id, "created_at": utcnow()})


def _after_insert(_mapper: Mapper[Any], connection: Any, product: Product) -> None:
    if product.stock:
        _record(connection, product.id, "initial", product.stock, None)


def _after_update(_mapper: Mapper[Any], connection: Any, product: Product) -> None:
    history = inspect(product).attrs.stock.history
    if not history.has_changes() or not history.deleted:
        return
    delta = product.stock - history.deleted[0]
    if delta:
        session = Session.object_session(product)
        kind, order_id = (session.info.get(_INFO_KEY) if session else None) or ("adjustment", None)
        _record(connection, product.id, kind, delta, order_id)


def install() -> None:
    """Listen to Product inserts and updates (once per process; call after ``start_mappers``)."""
    if not event.contains(Product, "after_insert", _after_insert):
        event.listen(Product, "after_insert", _after_insert)
        event.listen(Product, "after_update", _after_update)
