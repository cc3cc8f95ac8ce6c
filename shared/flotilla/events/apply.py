"""Turning one message body into one committed effect, or into a reason why not.

No broker code here: :class:`Applier` parses the envelope, finds the handler for its
``type``, and runs it in a transaction together with the inbox row. The consumer
decides what to do with the :class:`Outcome`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import Table

from flotilla.context import (
    reset_correlation_id,
    reset_request_id,
    set_correlation_id,
    set_request_id,
)
from flotilla.db import Database
from flotilla.events.envelope import Envelope, reset_causation, set_causation
from flotilla.events.inbox import first_delivery
from flotilla.events.registry import EventRegistry
from flotilla.problems import database_unavailable
from flotilla.unit_of_work import sqlite_writer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    #: ``unavailable``: the database could not be reached; nothing was applied and the message
    #: is not to blame (retried without counting the attempt, never parked for it).
    kind: Literal["applied", "duplicate", "failed", "unavailable", "unreadable"]
    message_id: str | None = None
    event_type: str | None = None
    error: str = ""
    #: The envelope's ``correlationid`` (the request that started the work), when readable.
    correlation_id: str | None = None


class Applier:
    def __init__(self, db: Database, registry: EventRegistry, inbox: Table) -> None:
        self.db, self.registry, self.inbox = db, registry, inbox
        self.service = registry.service

    @property
    def routing_keys(self) -> list[str]:
        return self.registry.routing_keys

    def apply(self, message_id: str | None, body: bytes) -> Outcome:
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            return Outcome("unreadable", message_id, error=f"not a CloudEvents envelope: {_brief(exc)}")
        entry = self.registry.consumed.get(envelope.type)
        if entry is None:
            return Outcome("unreadable", envelope.id, envelope.type, f"no handler for type {envelope.type}",
                           envelope.correlationid)
        model, handler = entry
        try:
            event = envelope.decode(model)
        except ValidationError as exc:
            return Outcome("unreadable", envelope.id, envelope.type,
                           f"bad {envelope.type} data: {_brief(exc)}", envelope.correlationid)
        request_token = set_request_id(envelope.correlationid)
        correlation_token = set_correlation_id(envelope.correlationid)
        cause_token = set_causation(envelope.id)
        correlation = envelope.correlationid
        try:
            with sqlite_writer(self.db), self.db.session(write=True) as session:
                if not first_delivery(session, self.inbox, self.service, envelope.id):
                    return Outcome("duplicate", envelope.id, envelope.type, correlation_id=correlation)
                handler(session, envelope, event)
            return Outcome("applied", envelope.id, envelope.type, correlation_id=correlation)
        except Exception as exc:  # any handler error is retried, then parked
            if database_unavailable(exc):
                log.warning("database unavailable while handling %s %s: %s", envelope.type, envelope.id, exc)
                return Outcome("unavailable", envelope.id, envelope.type, f"database unavailable: {exc}",
                               correlation_id=correlation)
            log.warning("handler for %s failed on %s: %s", envelope.type, envelope.id, exc, exc_info=True)
            return Outcome("failed", envelope.id, envelope.type, f"{type(exc).__name__}: {exc}",
                           correlation_id=correlation)
        finally:
            reset_causation(cause_token)
            reset_correlation_id(correlation_token)
            reset_request_id(request_token)


def _brief(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors()[:5])
