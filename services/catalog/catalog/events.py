"""The events catalog emits. Their JSON Schemas (with these examples) are generated into
``shared/contracts/events/`` by ``make contracts``; consumers read them as data."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, JsonValue

from catalog.model import Product
from flotilla.events import Event, EventRegistry

registry = EventRegistry("catalog")

_ID = "7d0c8f9e-6a55-4c1e-9b3f-2f1a4c0d9e11"


class _ProductState(Event):
    product_id: uuid.UUID
    name: str
    description: str
    price_cents: int
    currency: str
    stock: int
    product_version: int

    @classmethod
    def state_of(cls, product: Product) -> dict[str, object]:
        return {"product_id": product.id, "name": product.name, "description": product.description,
                "price_cents": product.price_cents, "currency": product.currency,
                "stock": product.stock, "product_version": product.version}


_STATE_EXAMPLE: dict[str, JsonValue] = {
    "product_id": _ID, "name": "Hand grinder", "description": "Conical steel burrs.",
    "price_cents": 8900, "currency": "EUR", "stock": 20, "product_version": 1}


@registry.produces
class ProductCreated(_ProductState):
    """A product was added to the catalog."""

    event_name = "product.created"
    model_config = ConfigDict(json_schema_extra={"examples": [_STATE_EXAMPLE]})

    @classmethod
    def of(cls, product: Product) -> ProductCreated:
        return cls.model_validate(cls.state_of(product))


@registry.produces
class ProductUpdated(_ProductState):
    """A product's details changed; the payload is its state after the change."""

    event_name = "product.updated"
    changed: list[str]
    model_config = ConfigDict(json_schema_extra={"examples": [
        {**_STATE_EXAMPLE, "price_cents": 9500, "product_version": 2, "changed": ["price_cents"]}]})

    @classmethod
    def of(cls, product: Product, changed: list[str]) -> ProductUpdated:
        return cls.model_validate({**cls.state_of(product), "changed": sorted(changed)})


@registry.produces
class ProductDeleted(Event):
    """A product was withdrawn from the catalog."""

    event_name = "product.deleted"
    product_id: uuid.UUID
    deleted_at: datetime
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"product_id": _ID, "deleted_at": "2026-11-25T10:00:00Z"}]})
