"""The inbox: which messages a consumer has already applied.

The row is written in the handler's own transaction, so "applied" and "recorded as
applied" commit together; a redelivered message finds its row and is acknowledged
without running the handler again.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from flotilla.db import UTCDateTime, utcnow

INBOX = "inbox"


def inbox_table(metadata: MetaData, name: str = INBOX) -> Table:
    return Table(
        name, metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(64), primary_key=True),
        Column("received_at", UTCDateTime, nullable=False),
    )


def first_delivery(session: Session, table: Table, consumer: str, message_id: str) -> bool:
    """Record ``message_id`` for ``consumer``; ``False`` when it was recorded before.

    Two concurrent deliveries of one message both pass the check; the second one's
    insert then violates the primary key, its transaction fails, and the retry sees
    the row.
    """
    seen = session.execute(
        select(table.c.message_id).where(table.c.consumer == consumer, table.c.message_id == message_id)
    ).first()
    if seen is not None:
        return False
    session.execute(insert(table).values(consumer=consumer, message_id=message_id, received_at=utcnow()))
    return True
