"""The inbox: which messages a consumer has already applied.

The row is written in the handler's own transaction, so "applied" and "recorded as
applied" commit together; a redelivered message finds its row and is acknowledged
without running the handler again.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Column, Executable, MetaData, String, Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
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

    On SQLite and PostgreSQL one ``INSERT ... ON CONFLICT DO NOTHING``: it inserted a row (first
    delivery) or found one. Two concurrent deliveries of one message: PostgreSQL makes the
    second insert wait for the first transaction, then it inserts nothing (a duplicate) or, when
    the first rolled back, the row (applied once). Elsewhere a select, then an insert whose
    primary key a concurrent twin violates: that transaction fails and the retry sees the row.
    """
    values = {"consumer": consumer, "message_id": message_id, "received_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect in _UPSERTS:
        # RETURNING, not rowcount: through a session, psycopg's rowcount of a DO NOTHING is -1.
        return session.execute(_record_once(table, dialect), values).first() is not None
    seen = session.execute(_seen(table), {"consumer": consumer, "message_id": message_id}).first()
    if seen is not None:
        return False
    session.execute(insert(table), values)
    return True


_UPSERTS = ("sqlite", "postgresql")


@cache
def _record_once(table: Table, dialect: str) -> Executable:
    """Built once per table (values bound per delivery): one round trip instead of two."""
    keys = ["consumer", "message_id"]
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys).returning(table.c.message_id)
    return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys).returning(table.c.message_id)


@cache
def _seen(table: Table) -> Executable:
    return select(table.c.message_id).where(table.c.consumer == bindparam("consumer"),
                                            table.c.message_id == bindparam("message_id"))
