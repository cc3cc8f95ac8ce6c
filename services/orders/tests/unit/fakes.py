"""Orders' unit of work and catalog kept in memory, for the rules' unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from flotilla.unit_of_work import InMemoryUnitOfWork
from orders.catalog_client import ProductInfo
from orders.model import Order


class FakeOrders:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Order] = {}
        self.erased: dict[uuid.UUID, datetime] = {}

    def add(self, order: Order) -> None:
        if any(o.user_id == order.user_id and o.idempotency_key == order.idempotency_key
               for o in self.rows.values()):
            raise IntegrityError("INSERT INTO orders", {}, Exception("duplicate idempotency key"))
        self.rows[order.id] = order

    def get(self, order_id: uuid.UUID, *, for_update: bool = False, lines: bool = True) -> Order | None:
        return self.rows.get(order_id)

    def by_idempotency_key(self, user_id: uuid.UUID, key: str) -> Order | None:
        return next((o for o in self.rows.values()
                     if o.user_id == user_id and o.idempotency_key == key), None)

    def page(self, user_id: uuid.UUID | None, status: str | None, limit: int,
             after: tuple[datetime, uuid.UUID] | None = None) -> list[Order]:
        rows = sorted((o for o in self.rows.values() if (user_id is None or o.user_id == user_id)
                       and (status is None or o.status == status)), key=lambda o: (o.created_at, o.id))
        if after is not None:
            rows = [o for o in rows if (o.created_at, o.id) > after]
        return rows[:limit]

    def remember_erased(self, user_id: uuid.UUID, erased_at: datetime) -> None:
        self.erased.setdefault(user_id, erased_at)

    def live_ids_of_erased(self, limit: int) -> list[uuid.UUID]:
        return [o.id for o in self.rows.values() if o.user_id in self.erased and o.is_live][:limit]

    def live_ids_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        return [o.id for o in self.rows.values() if o.user_id == user_id and o.is_live]


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[tuple[Any, object]] = []

    def add(self, event: Any, key: object = None) -> None:
        self.events.append((event, key))

    def types(self) -> list[str]:
        return [type(e).__name__ for e, _ in self.events]


class FakeUnitOfWork(InMemoryUnitOfWork):
    """One store shared by every transaction the factory opens (what a database is)."""

    def __init__(self) -> None:
        super().__init__()
        self.orders = FakeOrders()
        self.outbox = FakeOutbox()

    def __call__(self, *, write: bool = False) -> FakeUnitOfWork:
        self.write = write
        return self


class FakeCatalog:
    def __init__(self, *products: ProductInfo) -> None:
        self.known = {p.id: p for p in products}
        self.calls: list[tuple[list[uuid.UUID], str | None]] = []

    def products(self, ids: Sequence[uuid.UUID], *,
                 authorization: str | None = None) -> dict[uuid.UUID, ProductInfo]:
        self.calls.append((list(ids), authorization))
        return {i: self.known[i] for i in ids if i in self.known}
