"""The events users emits. Their JSON Schemas (with these examples) are generated into
``shared/contracts/events/`` by ``make contracts``; consumers read them as data.

No personal data travels in them (no email, no name): an erased account must not live
on in other services' queues and databases. The id is the reference.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict

from flotilla.events import Event, EventRegistry

registry = EventRegistry("users")

_ID = "3f2b6c1e-8d4a-4b7f-a1c9-5e6d7f8a9b0c"


@registry.produces
class UserRegistered(Event):
    """An account was created."""

    event_name = "user.registered"
    user_id: uuid.UUID
    roles: list[str]
    registered_at: datetime
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": _ID, "roles": ["customer"], "registered_at": "2026-11-25T10:00:00Z"}]})


@registry.produces
class UserDeleted(Event):
    """An account was erased; consumers drop or cancel what belongs to it."""

    event_name = "user.deleted"
    user_id: uuid.UUID
    deleted_at: datetime
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": _ID, "deleted_at": "2026-11-25T11:00:00Z"}]})
