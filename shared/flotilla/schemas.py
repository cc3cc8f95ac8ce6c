"""Base classes for request models.

flask-openapi3 asks a query (or header) model for its JSON Schema on every request
to learn which parameters are lists; pydantic builds that schema from scratch each
time (about 3 ms for a five-field model, more than the rest of a catalog listing).
The schema of a class never changes, so :class:`QueryModel` computes it once.
"""

from __future__ import annotations

import copy
import unicodedata
from functools import cache
from typing import Annotated, Any

from flask import has_request_context
from pydantic import AfterValidator, BaseModel, ConfigDict


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


# Free text: no NUL (PostgreSQL refuses it in ``text``, SQLite stores it and every
# consumer then truncates or chokes), no other C0/C1 control character, no DEL, and no
# bidirectional override/isolate (U+202A-U+202E, U+2066-U+2069: they reorder what a
# reader sees, "Trojan Source"). Multi-line fields may keep tab and newlines.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL = "".join(chr(c) for c in (*range(0x00, 0x20), *range(0x7f, 0xa0))) + _BIDI
_SINGLE_LINE = frozenset(_CONTROL)
_MULTI_LINE = frozenset(_CONTROL) - frozenset("\t\n\r")


def _refuse(value: str, forbidden: frozenset[str]) -> str:
    for ch in value:
        if ch in forbidden:
            raise ValueError(f"must not contain control or bidirectional-override characters "
                             f"(found U+{ord(ch):04X})")
    return value


def plain_text(value: str) -> str:
    """A single line of text: control and bidi-override characters refused."""
    return _refuse(value, _SINGLE_LINE)


def multiline_text(value: str) -> str:
    """Text that may span lines (tab, CR, LF allowed); other control characters refused."""
    return _refuse(value, _MULTI_LINE)


def display_name(value: str) -> str:
    """A name shown to people: single line, NFC-normalised (one code point sequence per glyph)."""
    return unicodedata.normalize("NFC", plain_text(value))


PlainText = Annotated[str, AfterValidator(plain_text)]
MultilineText = Annotated[str, AfterValidator(multiline_text)]
DisplayName = Annotated[str, AfterValidator(display_name)]
