"""The outbox: events written in the same transaction as the state change they announce.

A service adds the table to its own metadata (``outbox = outbox_table(metadata)``),
creates it in a migration, and its unit of work writes through :class:`Outbox`. The
worker's relay publishes unsent rows in ``id`` order and stamps ``sent_at`` once the
broker has confirmed them. A row keeps the W3C trace context (``traceparent``,
``tracestate``) of the work that wrote it when tracing is on, so the relay's publish
joins that trace; both stay NULL when it is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from flotilla import tracing
from flotilla.db import Database, UTCDateTime, utcnow
from flotilla.events.envelope import Envelope, Event, wrap

OUTBOX = "outbox"


def outbox_table(metadata: MetaData, name: str = OUTBOX) -> Table:
    return Table(
        name, metadata,
        # BIGINT on PostgreSQL; INTEGER PRIMARY KEY is SQLite's autoincrementing rowid.
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("message_id", String(64), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("aggregate_id", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("sent_at", UTCDateTime, nullable=True),
        Column("traceparent", String(55), nullable=True),
        Column("tracestate", String(tracing.TRACESTATE_MAX), nullable=True),
        Index(f"ix_{name}_unsent", "id", postgresql_where=text("sent_at IS NULL"),
              sqlite_where=text("sent_at IS NULL")),
    )


@cache
def _insert(table: Table) -> Insert:
    """One INSERT per outbox table, its values bound per call: building ``insert().values()``
    each time (coercing every value, a new cache key) was most of an ``add`` (docs/performance.md)."""
    return insert(table)


class Outbox:
    """Writes events into the outbox of the session's transaction."""

    def __init__(self, session: Session, table: Table, source: str) -> None:
        self.session = session
        self.table = table
        self.source = source

    def add(self, event: Event, aggregate_id: object) -> Envelope:
        """Queue ``event`` about aggregate ``aggregate_id``; published once the transaction commits."""
        envelope = wrap(event, self.source, subject=str(aggregate_id))
        self.session.execute(_insert(self.table), {
            "message_id": envelope.id,
            "event_type": envelope.type,
            "aggregate_id": str(aggregate_id),
            "envelope": envelope.model_dump_json(exclude_none=True),
            "created_at": envelope.time,
            "traceparent": None,
            "tracestate": None,
            **tracing.outgoing_context(),
        })
        return envelope


@dataclass(frozen=True)
class Backlog:
    unsent: int
    oldest: datetime | None

    @property
    def oldest_age_s(self) -> float:
        return (utcnow() - self.oldest).total_seconds() if self.oldest else 0.0


def backlog(db: Database, table: Table) -> Backlog:
    with db.session() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(table.c.created_at)).where(table.c.sent_at.is_(None))
        ).one()
    if oldest is not None and oldest.tzinfo is None:  # func.min() skips the column type
        oldest = UTCDateTime().process_result_value(oldest, None)
    elif isinstance(oldest, str):
        oldest = UTCDateTime().process_result_value(datetime.fromisoformat(oldest), None)
    return Backlog(int(count), oldest)
