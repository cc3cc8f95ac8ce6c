"""Catalog's part of the order saga: it consumes ``order.placed`` / ``order.cancelled`` and
answers with ``stock.reserved``, ``stock.rejected`` or ``stock.released``.

Each handler runs in the consumer's transaction (with the inbox row), so the
reservation, the stock change, its ledger rows and the answer event commit together.
The consumed models are catalog's own reading of orders' events (only what it needs).
"""

from __future__ import annotations

import logging
import uuid

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator
from sqlalchemy.orm import Session

from catalog.events import registry
from catalog.repository import metadata, outbox
from catalog.reservations import Line, release, reserve
from flotilla.events import Envelope, Event, Outbox, inbox_table

log = logging.getLogger(__name__)

#: Messages catalog has applied (consumer, message id), written with each handler's effect.
inbox = inbox_table(metadata)

_ORDER = "0b6f5a3e-1c4d-4e8f-9a2b-7c3d5e6f8a90"
_PRODUCT = "7d0c8f9e-6a55-4c1e-9b3f-2f1a4c0d9e11"
_LINES: list[JsonValue] = [{"product_id": _PRODUCT, "quantity": 2}]


class StockLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: uuid.UUID
    quantity: int


class LineRefusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: uuid.UUID
    reason: str


@registry.produces
class StockReserved(Event):
    """Every line of the order is held for it."""

    event_name = "stock.reserved"
    order_id: uuid.UUID
    lines: list[StockLine]
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": _ORDER, "lines": _LINES}]})


@registry.produces
class StockRejected(Event):
    """Not every line could be held, so nothing is; ``lines`` says why, per refused line."""

    event_name = "stock.rejected"
    order_id: uuid.UUID
    lines: list[LineRefusal]
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": _ORDER, "lines": [
        {"product_id": _PRODUCT, "reason": "insufficient stock: 2 requested, 1 available"}]}]})


@registry.produces
class StockReleased(Event):
    """What the order held is back on hand."""

    event_name = "stock.released"
    order_id: uuid.UUID
    lines: list[StockLine]
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": _ORDER, "lines": _LINES}]})


class OrderedLine(BaseModel):
    product_id: uuid.UUID
    quantity: int = Field(gt=0)


class OrderPlaced(Event):
    """Catalog's reading of orders' event; a malformed one is unreadable (parked), never applied."""

    event_name = "order.placed"
    order_id: uuid.UUID
    lines: list[OrderedLine] = Field(min_length=1)

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[OrderedLine]) -> list[OrderedLine]:
        if len({li.product_id for li in lines}) != len(lines):
            raise ValueError("a product appears on two lines")
        return lines


class OrderCancelled(Event):
    event_name = "order.cancelled"
    order_id: uuid.UUID


@registry.consumes(OrderPlaced)
def on_order_placed(session: Session, envelope: Envelope, event: OrderPlaced) -> None:
    decision = reserve(session, event.order_id, [Line(li.product_id, li.quantity) for li in event.lines])
    out = Outbox(session, outbox, registry.source)
    if decision is None:
        log.info("order %s was decided before; nothing to do", event.order_id)
    elif decision.reserved:
        lines = [StockLine(product_id=li.product_id, quantity=li.quantity) for li in event.lines]
        out.add(StockReserved(order_id=event.order_id, lines=lines), event.order_id)
    else:
        refusals = [LineRefusal(product_id=r.product_id, reason=r.reason) for r in decision.refusals]
        out.add(StockRejected(order_id=event.order_id, lines=refusals), event.order_id)


@registry.consumes(OrderCancelled)
def on_order_cancelled(session: Session, envelope: Envelope, event: OrderCancelled) -> None:
    released = release(session, event.order_id)
    if released:
        lines = [StockLine(product_id=li.product_id, quantity=li.quantity) for li in released]
        Outbox(session, outbox, registry.source).add(StockReleased(order_id=event.order_id, lines=lines),
                                                     event.order_id)
