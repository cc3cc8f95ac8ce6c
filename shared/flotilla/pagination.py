"""Opaque keyset cursors: ``(created_at, id)`` of the last row a page showed."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from flotilla.problems import Problem


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ``ValueError`` for anything :func:`encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("not a cursor this API issued") from exc


def cursor_from_query(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A query's ``cursor`` parameter, decoded; a forged one is a 422 naming the field."""
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError:
        raise Problem(422, "The cursor is not one this API issued.", title="Validation failed",
                      errors=[{"field": "cursor", "message": "invalid cursor"}],
                      slug="validation-failed") from None
