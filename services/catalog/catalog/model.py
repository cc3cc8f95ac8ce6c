"""Products and their stock: the rules, with no framework and no session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flotilla.db import utcnow


class ProductNotFound(Exception):
    def __init__(self, product_id: uuid.UUID) -> None:
        super().__init__(f"No product with id {product_id}.")


class InsufficientStock(Exception):
    """A stock change would leave fewer than zero units on hand."""


class VersionMismatch(Exception):
    """The caller's ``If-Match`` names a version that is no longer current."""


@dataclass(eq=False)
class Product:
    name: str
    price_cents: int
    currency: str
    description: str = ""
    stock: int = 0
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None
    version: int = 1  # bumped by the mapper on every update (optimistic locking)

    @property
    def etag(self) -> str:
        return f'"v{self.version}"'

    def check_precondition(self, if_match: frozenset[str] | None) -> None:
        """``If-Match``: ``None`` means no precondition, ``*`` any current version."""
        if if_match is not None and "*" not in if_match and self.etag not in if_match:
            raise VersionMismatch(f"Product {self.id} is at {self.etag}, not {sorted(if_match)}.")

    def change(self, **fields: object) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.updated_at = utcnow()

    def adjust_stock(self, delta: int) -> None:
        if self.stock + delta < 0:
            raise InsufficientStock(
                f"Product {self.id} has {self.stock} on hand; cannot remove {-delta}."
            )
        self.stock += delta
        self.updated_at = utcnow()

    def set_stock(self, quantity: int) -> None:
        self.adjust_stock(quantity - self.stock)

    def delete(self) -> None:
        self.deleted_at = utcnow()
        self.updated_at = self.deleted_at
