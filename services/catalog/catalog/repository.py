"""Catalog's tables, their mapping onto the model, the repository and the unit of work."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    Uuid,
    and_,
    bindparam,
    or_,
    select,
)
from sqlalchemy.orm import Session, registry

from catalog.events import registry as events
from catalog.model import Product
from flotilla.db import UTCDateTime
from flotilla.events import Outbox, outbox_table
from flotilla.unit_of_work import UnitOfWork as BaseUnitOfWork

metadata = MetaData()

products = Table(
    "products", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
    CheckConstraint("price_cents >= 0", name="ck_products_price_not_negative"),
    Index("ix_products_listing", "created_at", "id"),
)

#: Events to other services, written in the same transaction as the change they announce.
outbox = outbox_table(metadata)

_mappers = registry(metadata=metadata)


def start_mappers() -> None:
    """Map the model onto the tables, once per process."""
    if not _mappers.mappers:
        _mappers.map_imperatively(Product, products, version_id_col=products.c.version)


@dataclass(frozen=True)
class ProductFilter:
    q: str | None = None
    min_price: int | None = None
    max_price: int | None = None


@functools.cache
def _get_statement(for_update: bool) -> Select[tuple[Product]]:
    """Built once (after the mappers started): building it per call cost about a fifth of an
    item read (docs/performance.md)."""
    stmt = select(Product).where(products.c.id == bindparam("product_id"), products.c.deleted_at.is_(None))
    return stmt.with_for_update() if for_update else stmt


class ProductRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, product: Product) -> None:
        self.session.add(product)

    def get(self, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
        return self.session.scalars(_get_statement(for_update), {"product_id": product_id}).one_or_none()

    def exists(self, product_id: uuid.UUID) -> bool:
        """Whether the id was ever used, deleted or not."""
        stmt = select(products.c.id).where(products.c.id == product_id)
        return self.session.execute(stmt).first() is not None

    def page(self, flt: ProductFilter, limit: int,
             after: tuple[datetime, uuid.UUID] | None) -> list[Product]:
        """Up to ``limit`` live products in (created_at, id) order, after the cursor."""
        stmt = _page_statement(*page_shape(flt, after))
        return list(self.session.scalars(stmt, page_params(flt, limit, after)))


def page_shape(flt: ProductFilter, after: tuple[datetime, uuid.UUID] | None) -> tuple[bool, bool, bool, bool]:
    """Which filters a page query has: the key of its cached statement."""
    return bool(flt.q), flt.min_price is not None, flt.max_price is not None, after is not None


def page_params(flt: ProductFilter, limit: int,
                after: tuple[datetime, uuid.UUID] | None) -> dict[str, object]:
    """The values bound to a page statement (:func:`page_criteria`)."""
    params: dict[str, object] = {"limit": limit, "min_price": flt.min_price, "max_price": flt.max_price}
    if flt.q:
        escaped = flt.q.replace("/", "//").replace("%", "/%").replace("_", "/_")
        params["pattern"] = f"%{escaped}%"
    if after is not None:
        params["after_created"], params["after_id"] = after
    return params


def page_criteria(q: bool, min_price: bool, max_price: bool, after: bool) -> list[ColumnElement[bool]]:
    """The WHERE of a page of live products, values as bound parameters."""
    c = products.c
    where: list[ColumnElement[bool]] = [c.deleted_at.is_(None)]
    if q:  # case-insensitive substring, %, _ and / in the text taken literally
        pattern = bindparam("pattern", type_=c.name.type)
        where.append(or_(c.name.ilike(pattern, escape="/"), c.description.ilike(pattern, escape="/")))
    if min_price:
        where.append(c.price_cents >= bindparam("min_price"))
    if max_price:
        where.append(c.price_cents <= bindparam("max_price"))
    if after:
        created = bindparam("after_created", type_=c.created_at.type)
        pid = bindparam("after_id", type_=c.id.type)
        where.append(or_(c.created_at > created, and_(c.created_at == created, c.id > pid)))
    return where


@functools.cache
def _page_statement(q: bool, min_price: bool, max_price: bool, after: bool) -> Select[tuple[Product]]:
    """One statement per shape of filter, built once, values bound per call."""
    c = products.c
    stmt = select(Product).where(*page_criteria(q, min_price, max_price, after))
    return stmt.order_by(c.created_at, c.id).limit(bindparam("limit"))


class UnitOfWork(BaseUnitOfWork):
    """Catalog's transaction: products, and the outbox that commits with them."""

    products: ProductRepository
    outbox: Outbox

    def _bind(self, session: Session) -> None:
        super()._bind(session)
        self.products = ProductRepository(session)
        self.outbox = Outbox(session, outbox, events.source)
