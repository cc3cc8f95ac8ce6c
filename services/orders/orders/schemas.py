"""Orders' request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Self

from flask import has_request_context
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from flotilla.pagination import CURSOR_EXAMPLE
from flotilla.schemas import INTEGRAL, Cursor, QueryModel, StrictBody

_ID = "0b8f6a52-3c1e-4f7a-9d2b-5e6c7a8b9c0d"
_USER = "7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11"
_PRODUCT = "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b"
_LINE: JsonDict = {"product_id": _PRODUCT, "name": "Espresso cup", "quantity": 2, "price_cents": 1250,
         "currency": "EUR"}
_ORDER: JsonDict = {"id": _ID, "user_id": _USER, "status": "confirmed", "reason": None, "total_cents": 2500,
          "currency": "EUR", "lines": [_LINE], "created_at": "2026-12-01T09:30:00Z",
          "updated_at": "2026-12-01T09:30:01Z"}

MAX_LINES = 50
MAX_QUANTITY = 1000
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"  # visible ASCII, no spaces


class ItemIn(StrictBody):
    model_config = ConfigDict(json_schema_extra={"example": {"product_id": _PRODUCT, "quantity": 2}})

    # JSON has no UUID type: the id arrives as a string, so this one field is lax.
    product_id: uuid.UUID = Field(strict=False)
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY), INTEGRAL]


class OrderCreate(StrictBody):
    """The products and quantities; each product at most once."""

    model_config = ConfigDict(json_schema_extra={"example": {"items": [{"product_id": _PRODUCT,
                                                                        "quantity": 2}]}})

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

    # Required in the document; ``api`` checks it itself, so that a missing key is a 400
    # that says what to send rather than a generic validation failure.
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"required": ["Idempotency-Key"]})

    idempotency_key: str | None = Field(
        None, alias="Idempotency-Key", json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
        description="A fresh value (e.g. a UUID) per new order; repeat it to retry safely. "
                    "1-200 visible ASCII characters.")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Built once: flask-openapi3 asks for it on every ``POST /orders`` (``_validate_header``)
        and pydantic builds it from scratch each time (a seventh of the request's CPU,
        docs/performance.md); the cached one is only read then, document builders get a copy."""
        schema = _header_schema(cls, args, tuple(sorted(kwargs.items())))
        return schema if has_request_context() else copy.deepcopy(schema)


@cache
def _header_schema(cls: type[BaseModel], args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]
                   ) -> dict[str, Any]:
    return BaseModel.model_json_schema.__func__(cls, *args, **dict(kwargs))  # type: ignore[attr-defined]


Status = Literal["pending", "confirmed", "rejected", "cancelled"]


class OrderQuery(QueryModel):
    status: Status | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Cursor | None = Field(None, description="``next_cursor`` of the previous page.")


class OrderPath(BaseModel):
    order_id: uuid.UUID


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": _LINE})

    product_id: uuid.UUID
    name: str
    quantity: int
    price_cents: int
    currency: str


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": _ORDER})

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
    model_config = ConfigDict(json_schema_extra={"example": {"items": [_ORDER],
                                                             "next_cursor": CURSOR_EXAMPLE}})

    items: list[OrderOut]
    next_cursor: str | None
