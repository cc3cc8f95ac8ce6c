"""Catalog's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from flotilla.pagination import CURSOR_EXAMPLE
from flotilla.schemas import (
    INTEGRAL,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    Cursor,
    JsonSchemaPattern,
    QueryModel,
    StrictBody,
    display_name,
    multiline_text,
    not_null,
    plain_text,
    refuse_nulls,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(display_name),
                 JsonSchemaPattern(SINGLE_LINE_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=5000), AfterValidator(multiline_text),
                        JsonSchemaPattern(MULTI_LINE_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Cents = Annotated[int, Field(ge=0, le=10**12), INTEGRAL]
QueryCents = Annotated[int, Field(ge=0, le=10**12)]

_ID = "7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11"
_PRODUCT: JsonDict = {
    "id": _ID, "name": "Espresso cup", "description": "Porcelain, 80 ml.", "price_cents": 1250,
    "currency": "EUR", "stock": 40, "version": 3, "created_at": "2026-12-01T09:30:00Z",
    "updated_at": "2026-12-01T10:00:00Z"}




class ProductCreate(StrictBody):
    model_config = ConfigDict(json_schema_extra={"example": {
        "name": "Espresso cup", "description": "Porcelain, 80 ml.", "price_cents": 1250, "currency": "EUR",
        "stock": 40}})

    name: Name
    description: Description = ""
    price_cents: Cents
    currency: Currency
    stock: Annotated[int, Field(ge=0, le=10**9), INTEGRAL] = 0


class ProductPatch(StrictBody):
    """The fields to change; an absent field is left as it is (none may be null)."""

    model_config = ConfigDict(json_schema_extra={"example": {"price_cents": 1100}})

    name: Name | None = Field(None, json_schema_extra=not_null)
    description: Description | None = Field(None, json_schema_extra=not_null)
    price_cents: Cents | None = Field(None, json_schema_extra=not_null)
    currency: Currency | None = Field(None, json_schema_extra=not_null)

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        refuse_nulls(self)
        return self


class StockChange(StrictBody):
    """Exactly one of ``delta`` (relative) or ``quantity`` (absolute)."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["delta"]}, {"required": ["quantity"]}], "example": {"delta": -2}})

    delta: Annotated[int, Field(ge=-10**9, le=10**9), INTEGRAL] | None = Field(
        None, json_schema_extra=not_null, description="Added to the stock (may be negative).")
    quantity: Annotated[int, Field(ge=0, le=10**9), INTEGRAL] | None = Field(
        None, json_schema_extra=not_null, description="The new stock level.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        refuse_nulls(self)
        if (self.delta is None) == (self.quantity is None):
            raise ValueError("give exactly one of delta or quantity")
        return self


class ProductQuery(QueryModel):
    q: Annotated[str, StringConstraints(max_length=200), AfterValidator(plain_text),
                 JsonSchemaPattern(SINGLE_LINE_PATTERN)] | None = Field(
        None, description="Only products whose name contains this (case-insensitive).")
    min_price: QueryCents | None = None
    # A range with min_price above max_price is empty (an empty page), not an error: each
    # parameter is valid on its own, and the document can only describe them one by one.
    max_price: QueryCents | None = Field(None, description="Products above it are left out.")
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Cursor | None = Field(None, description="``next_cursor`` of the previous page.")


class ProductPath(BaseModel):
    product_id: uuid.UUID


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": _PRODUCT})

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
    model_config = ConfigDict(json_schema_extra={"example": {"items": [_PRODUCT],
                                                             "next_cursor": CURSOR_EXAMPLE}})

    items: list[ProductOut]
    next_cursor: str | None


class StockLevel(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"product_id": _ID, "stock": 38, "version": 4}})

    product_id: uuid.UUID
    stock: int
    version: int
