"""Base classes for request models.

flask-openapi3 asks a query (or header) model for its JSON Schema on every request
to learn which parameters are lists; pydantic builds that schema from scratch each
time (about 3 ms for a five-field model, more than the rest of a catalog listing).
The schema of a class never changes, so :class:`QueryModel` computes it once.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import has_request_context
from pydantic import BaseModel, ConfigDict


class QueryModel(BaseModel):
    """Query-string parameters: strings coerced to the declared types, unknown names refused."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = _schema_of(cls, args, tuple(sorted(kwargs.items())))
        # During a request flask-openapi3 only reads it (request.py, _validate_query): the
        # copy, 5 % of a listing's CPU, is for the document builders, which may edit it.
        return schema if has_request_context() else copy.deepcopy(schema)


@cache
def _schema_of(cls: type[BaseModel], args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]
               ) -> dict[str, Any]:
    return BaseModel.model_json_schema.__func__(cls, *args, **dict(kwargs))  # type: ignore[attr-defined]


class StrictBody(BaseModel):
    """JSON bodies: exact JSON types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)
