"""Catalog's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from flotilla.schemas import QueryModel, StrictBody, display_name, multiline_text, plain_text

Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(display_name)]
Description = Annotated[str, StringConstraints(max_length=5000), AfterValidator(multiline_text)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Cents = Annotated[int, Field(ge=0, le=10**12)]


class ProductCreate(StrictBody):
    name: Name
    description: Description = ""
    price_cents: Cents
    currency: Currency
    stock: Annotated[int, Field(ge=0, le=10**9)] = 0


class ProductPatch(StrictBody):
    name: Name | None = None
    description: Description | None = None
    price_cents: Cents | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class StockChange(StrictBody):
    """Exactly one of ``delta`` (relative) or ``quantity`` (absolute)."""

    delta: Annotated[int, Field(ge=-10**9, le=10**9)] | None = None
    quantity: Annotated[int, Field(ge=0, le=10**9)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.delta is None) == (self.quantity is None):
            raise ValueError("give exactly one of delta or quantity")
        return self


class ProductQuery(QueryModel):
    q: Annotated[str, StringConstraints(max_length=200), AfterValidator(plain_text)] | None = None
    min_price: Cents | None = None
    max_price: Cents | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(max_length=200), AfterValidator(plain_text)] | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price must not exceed max_price")
        return self


class ProductPath(BaseModel):
    product_id: uuid.UUID


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    price_cents: int
    currency: str
    stock: int
    version: int
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None


class StockLevel(BaseModel):
    product_id: uuid.UUID
    stock: int
    version: int
