"""Catalog's read path: the two public reads (one product, a page of products) as Core
statements on a plain connection (:meth:`flotilla.db.Database.read`).

An item read through the ORM spent about half its time in the session, the identity map and
the BEGIN/COMMIT around one SELECT (docs/performance.md). A read needs none of that: each is
one statement, built once per shape, whose rows become :class:`ProductView` values. Writes
and the reads they depend on stay in the unit of work (``catalog.service``).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from catalog.model import ProductNotFound
from catalog.repository import ProductFilter, page_criteria, page_params, page_shape, products
from flotilla.db import Database
from flotilla.pagination import encode_cursor

_c = products.c
COLUMNS = (_c.id, _c.name, _c.description, _c.price_cents, _c.currency, _c.stock, _c.version,
           _c.created_at, _c.updated_at)


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product as the API shows it (the fields of ``ProductOut``), read-only."""

    id: uuid.UUID
    name: str
    description: str
    price_cents: int
    currency: str
    stock: int
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"v{self.version}"'


@dataclass(frozen=True)
class ViewPage:
    items: list[ProductView]
    next_cursor: str | None


@functools.cache
def _item_statement() -> Select[Any]:
    return select(*COLUMNS).where(_c.id == bindparam("product_id"), _c.deleted_at.is_(None))


@functools.cache
def _page_statement(q: bool, min_price: bool, max_price: bool, after: bool) -> Select[Any]:
    stmt = select(*COLUMNS).where(*page_criteria(q, min_price, max_price, after))
    return stmt.order_by(_c.created_at, _c.id).limit(bindparam("limit"))


def get_product(db: Database, product_id: uuid.UUID) -> ProductView:
    """The live product with this id; ``ProductNotFound`` (404) otherwise."""
    with db.read() as conn:
        row = conn.execute(_item_statement(), {"product_id": product_id}).first()
    if row is None:
        raise ProductNotFound(product_id)
    return ProductView(*row)


def list_products(db: Database, flt: ProductFilter, limit: int,
                  after: tuple[datetime, uuid.UUID] | None = None) -> ViewPage:
    """Up to ``limit`` live products in (created_at, id) order after the cursor, and the
    cursor of the next page when there is one."""
    stmt = _page_statement(*page_shape(flt, after))
    with db.read() as conn:
        rows = conn.execute(stmt, page_params(flt, limit + 1, after)).all()
    items = [ProductView(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return ViewPage(items, encode_cursor(items[-1].created_at, items[-1].id) if more else None)
