"""Keyset cursors: ``(created_at, id)`` of the last row a page showed.

A cursor is ``<created_at in microseconds since the epoch>.<id as 32 hex digits>``: every
string of that shape (:data:`CURSOR_PATTERN`, which the OpenAPI documents state) is a
position in the ``(created_at, id)`` order, so any of them is accepted, not only those this
API issued. The earlier form (base64url of ``["<iso time>", "<uuid>"]``) is still read, so a
client holding one across an upgrade keeps its place.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from flotilla.problems import Problem

#: Empty means the first page, as when there is no cursor at all.
CURSOR_PATTERN = r"^([0-9]{1,17}\.[0-9a-f]{32})?$"
CURSOR_EXAMPLE = "1767225600000000.7d1c3e0e8a1b4c559f4e3f0b6a2d9c11"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    when = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return f"{(when - _EPOCH) // _MICROSECOND}.{row_id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ``ValueError`` for anything that is neither form of cursor."""
    if cursor and _CURSOR.match(cursor):
        micros, row_id = cursor.split(".")
        try:
            return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=row_id)
        except OverflowError:
            raise ValueError("cursor out of range") from None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("not a cursor") from exc


def cursor_from_query(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A query's ``cursor`` parameter, decoded; a malformed one is a 422 naming the field."""
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError:
        raise Problem(422, "The cursor is not one this API issues.", title="Validation failed",
                      errors=[{"field": "cursor", "message": "invalid cursor"}],
                      slug="validation-failed") from None
