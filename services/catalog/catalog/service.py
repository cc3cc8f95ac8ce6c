"""Catalog's use cases. They take plain values and a database, never a request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from catalog.events import ProductCreated, ProductDeleted, ProductUpdated
from catalog.model import Product, ProductNotFound
from catalog.repository import ProductFilter, UnitOfWork
from flotilla.pagination import encode_cursor
from flotilla.unit_of_work import UnitOfWorkFactory

#: What the use cases are given: ``with new_uow(write=True) as uow:``.
Uow: TypeAlias = UnitOfWorkFactory[UnitOfWork]


@dataclass(frozen=True)
class Page:
    items: list[Product]
    next_cursor: str | None


def list_products(new_uow: Uow, flt: ProductFilter, limit: int,
                  after: tuple[datetime, uuid.UUID] | None = None) -> Page:
    with new_uow() as uow:
        rows = uow.products.page(flt, limit + 1, after)
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1].created_at, items[-1].id) if more else None)


def get_product(new_uow: Uow, product_id: uuid.UUID) -> Product:
    with new_uow() as uow:
        product = uow.products.get(product_id)
        if product is None:
            raise ProductNotFound(product_id)
        return product


def create_product(new_uow: Uow, fields: Mapping[str, Any]) -> Product:
    product = Product(**fields)
    with new_uow(write=True) as uow:
        uow.products.add(product)
        uow.flush()
        uow.outbox.add(ProductCreated.of(product), product.id)
    return product


def update_product(new_uow: Uow, product_id: uuid.UUID, changes: Mapping[str, Any],
                   if_match: frozenset[str] | None = None) -> Product:
    with new_uow(write=True) as uow:
        product = _for_update(uow, product_id)
        product.check_precondition(if_match)
        if changes:
            changed = [name for name, value in changes.items() if getattr(product, name) != value]
            product.change(**changes)
            uow.flush()  # bumps the version the event reports
            uow.outbox.add(ProductUpdated.of(product, changed), product.id)
    return product


def delete_product(new_uow: Uow, product_id: uuid.UUID,
                   if_match: frozenset[str] | None = None) -> None:
    with new_uow(write=True) as uow:
        product = _for_update(uow, product_id)
        product.check_precondition(if_match)
        product.delete()
        uow.outbox.add(ProductDeleted(product_id=product.id, deleted_at=product.deleted_at), product.id)


def change_stock(new_uow: Uow, product_id: uuid.UUID, *, delta: int | None = None,
                 quantity: int | None = None) -> Product:
    with new_uow(write=True) as uow:
        product = _for_update(uow, product_id)
        if quantity is not None:
            product.set_stock(quantity)
        else:
            product.adjust_stock(delta or 0)
    return product


def _for_update(uow: UnitOfWork, product_id: uuid.UUID) -> Product:
    product = uow.products.get(product_id, for_update=True)
    if product is None:
        raise ProductNotFound(product_id)
    return product
