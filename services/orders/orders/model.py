"""Orders and their lines: the state machine, with no framework and no session.

    pending --confirm--> confirmed --cancel--> cancelled
    pending --reject---> rejected
    pending --cancel---> cancelled

``rejected`` and ``cancelled`` are final. An order's lines carry a snapshot of each
product's name and price taken when the order was placed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from flotilla.db import utcnow


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: Allowed moves; a status missing on the left is final.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.CONFIRMED, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.CANCELLED}),
}
LIVE = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED})


class OrderNotFound(Exception):
    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__(f"No order with id {order_id}.")


class InvalidTransition(Exception):
    """The order's status does not allow this move (for example cancelling a rejected order)."""


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before by this caller with a different request body."""


class MixedCurrencies(Exception):
    """An order's products are priced in more than one currency."""


@dataclass(eq=False)
class OrderLine:
    product_id: uuid.UUID
    quantity: int
    name: str
    price_cents: int
    currency: str
    line_no: int = 0

    @property
    def subtotal_cents(self) -> int:
        return self.price_cents * self.quantity


@dataclass(eq=False)
class Order:
    user_id: uuid.UUID
    lines: list[OrderLine]
    idempotency_key: str | None  # None once the key has expired and been purged
    request_hash: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    status: str = OrderStatus.PENDING
    reason: str | None = None
    total_cents: int = 0
    currency: str = "EUR"
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 1  # bumped by the mapper on every update (optimistic locking)

    @classmethod
    def place(cls, user_id: uuid.UUID, lines: list[OrderLine], idempotency_key: str,
              request_hash: str) -> Order:
        currencies = {line.currency for line in lines}
        if len(currencies) != 1:
            raise MixedCurrencies(f"An order takes one currency; these products use {sorted(currencies)}.")
        for number, line in enumerate(lines, start=1):
            line.line_no = number
        return cls(user_id=user_id, lines=lines, idempotency_key=idempotency_key,
                   request_hash=request_hash, total_cents=sum(li.subtotal_cents for li in lines),
                   currency=currencies.pop())

    @property
    def is_final(self) -> bool:
        return OrderStatus(self.status) not in TRANSITIONS

    @property
    def is_live(self) -> bool:
        """Pending or confirmed: stock may be (or become) reserved for it."""
        return OrderStatus(self.status) in LIVE

    def _move(self, to: OrderStatus, reason: str | None = None) -> None:
        current = OrderStatus(self.status)
        if to not in TRANSITIONS.get(current, frozenset()):
            raise InvalidTransition(f"Order {self.id} is {current}; it cannot become {to}.")
        self.status = to
        self.reason = reason
        self.updated_at = utcnow()

    def confirm(self) -> None:
        self._move(OrderStatus.CONFIRMED)

    def reject(self, reason: str) -> None:
        self._move(OrderStatus.REJECTED, reason)

    def cancel(self, reason: str) -> None:
        self._move(OrderStatus.CANCELLED, reason)

    def visible_to(self, user_id: uuid.UUID, is_admin: bool) -> bool:
        return is_admin or self.user_id == user_id
