"""Orders' request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from flotilla.schemas import QueryModel, StrictBody, plain_text

MAX_LINES = 50
MAX_QUANTITY = 1000


class ItemIn(StrictBody):
    # JSON has no UUID type: the id arrives as a string, so this one field is lax.
    product_id: uuid.UUID = Field(strict=False)
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class OrderCreate(StrictBody):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_LINES)]

    @model_validator(mode="after")
    def _no_duplicate_products(self) -> Self:
        seen: set[uuid.UUID] = set()
        for item in self.items:
            if item.product_id in seen:
                raise ValueError(f"product {item.product_id} appears more than once; "
                                 "order it once with the total quantity")
            seen.add(item.product_id)
        return self


class PlaceHeaders(BaseModel):
    """Documents the header; ``api`` checks it (missing: 400, malformed: 422)."""

    model_config = ConfigDict(populate_by_name=True)

    idempotency_key: str | None = Field(
        None, alias="Idempotency-Key",
        description="Required. A fresh value (e.g. a UUID) per new order; repeat it to retry safely.")


Status = Literal["pending", "confirmed", "rejected", "cancelled"]


class OrderQuery(QueryModel):
    status: Status | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(max_length=200), AfterValidator(plain_text)] | None = None


class OrderPath(BaseModel):
    order_id: uuid.UUID


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    name: str
    quantity: int
    price_cents: int
    currency: str


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    status: Status
    reason: str | None
    total_cents: int
    currency: str
    lines: list[LineOut]
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None
