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
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from flotilla.pagination import CURSOR_PATTERN


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


def _class(chars: frozenset[str]) -> str:
    """The characters as the inside of a regex class, runs written as ranges."""
    codes, out = sorted(map(ord, chars)), []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code != prev + 1:
            out.append(f"\\u{start:04x}" + (f"-\\u{prev:04x}" if prev > start else ""))
            start = code
        prev = code
    return "".join(out)


#: The same rules as JSON Schema patterns (ECMA-262 and Python ``re`` read them alike), so
#: the documents say what the validators refuse.
SINGLE_LINE_PATTERN = f"^[^{_class(_SINGLE_LINE)}]*$"
MULTI_LINE_PATTERN = f"^[^{_class(_MULTI_LINE)}]*$"
#: A display name is stripped of surrounding whitespace and must keep one character.
DISPLAY_NAME_PATTERN = f"^[^{_class(_SINGLE_LINE)}]*[^\\s{_class(_SINGLE_LINE)}][^{_class(_SINGLE_LINE)}]*$"


class JsonSchemaPattern:
    """Annotated metadata: ``pattern`` (and ``format``) in the JSON Schema only; the
    validators beside it enforce the same rule with their own messages."""

    def __init__(self, pattern: str, format: str | None = None) -> None:
        self.pattern, self.format = pattern, format

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        if self.format:
            schema["format"] = self.format
        return schema


def integral(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer: accept an integer-valued float as that integer
    (strict bodies otherwise refuse every float). Booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


PlainText = Annotated[str, AfterValidator(plain_text), JsonSchemaPattern(SINGLE_LINE_PATTERN)]
MultilineText = Annotated[str, AfterValidator(multiline_text), JsonSchemaPattern(MULTI_LINE_PATTERN)]
DisplayName = Annotated[str, AfterValidator(display_name), JsonSchemaPattern(SINGLE_LINE_PATTERN)]
#: Annotated metadata for an integer in a strict body, after its constraints (so the
#: document keeps ``minimum``/``maximum``): ``Annotated[int, Field(ge=0), INTEGRAL]``.
INTEGRAL = BeforeValidator(integral)

#: A keyset cursor query parameter: the shape :mod:`flotilla.pagination` issues and reads.
Cursor = Annotated[str, StringConstraints(max_length=200), AfterValidator(plain_text),
                   JsonSchemaPattern(CURSOR_PATTERN)]


def not_null(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` for an optional field that may be absent but not null (a model
    validator refuses null): the document shows only the non-null type, without a default."""
    options = schema.pop("anyOf", None)
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    schema.pop("default", None)


def refuse_nulls(model: BaseModel) -> None:
    """For a model validator: every field given must not be null."""
    for name in model.model_fields_set:
        if getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")
