"""The events orders emits, and orders' own reading of the events it consumes.

Produced models carry examples: ``make contracts`` writes their JSON Schemas into
``shared/contracts/events/`` where catalog's tests read them. Consumed models read
only the fields orders needs (unknown fields are ignored), so producers may add more.
The handlers are registered on :data:`registry` by :mod:`orders.saga`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from flotilla.events import Event, EventRegistry

registry = EventRegistry("orders")

_ORDER = "0b6f5a3e-1c4d-4e8f-9a2b-7c3d5e6f8a90"
_USER = "5f2e8d1c-3b4a-4c6d-8e9f-0a1b2c3d4e5f"
_PRODUCT = "7d0c8f9e-6a55-4c1e-9b3f-2f1a4c0d9e11"


class PlacedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: uuid.UUID
    quantity: int
    name: str
    price_cents: int
    currency: str


@registry.produces
class OrderPlaced(Event):
    """A customer placed an order; catalog is asked to reserve every line (or none)."""

    event_name = "order.placed"
    order_id: uuid.UUID
    user_id: uuid.UUID
    lines: list[PlacedLine]
    total_cents: int
    currency: str
    placed_at: datetime
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "order_id": _ORDER, "user_id": _USER, "total_cents": 4800, "currency": "EUR",
        "placed_at": "2026-11-25T10:00:00Z",
        "lines": [{"product_id": _PRODUCT, "quantity": 2, "name": "Espresso beans, 1 kg",
                   "price_cents": 2400, "currency": "EUR"}]}]})


@registry.produces
class OrderCancelled(Event):
    """The order was cancelled (by its owner, the pending-timeout sweeper or a user
    deletion); whatever catalog holds for it is to be released. Safe to receive twice."""

    event_name = "order.cancelled"
    order_id: uuid.UUID
    user_id: uuid.UUID
    reason: str
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "order_id": _ORDER, "user_id": _USER, "reason": "cancelled by the customer"}]})


class ReservedLine(BaseModel):
    product_id: uuid.UUID
    quantity: int


class StockReserved(Event):
    """Catalog holds every line of the order."""

    event_name = "stock.reserved"
    order_id: uuid.UUID
    lines: list[ReservedLine] = []


class RejectedLine(BaseModel):
    product_id: uuid.UUID
    reason: str


class StockRejected(Event):
    """Catalog could not hold every line; nothing is held."""

    event_name = "stock.rejected"
    order_id: uuid.UUID
    lines: list[RejectedLine] = []


class UserDeleted(Event):
    """A user account was erased: their live orders are cancelled."""

    event_name = "user.deleted"
    user_id: uuid.UUID
