"""Forgetting old bookkeeping: sent outbox rows and inbox rows past the retention period.

An inbox row must outlive every redelivery of its message (minutes, at worst hours),
an outbox row is only kept for inspection once sent, so a week is plenty for both.
The worker runs this every ``EVENTS_HOUSEKEEPING_SECONDS``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Table, delete

from flotilla.db import Database, utcnow

log = logging.getLogger(__name__)


def purge_history(db: Database, *, outbox: Table | None, inbox: Table | None,
                  older_than: timedelta) -> tuple[int, int]:
    """Delete sent outbox rows and inbox rows older than ``older_than``; returns both counts."""
    cutoff = utcnow() - older_than
    sent = received = 0
    with db.session(write=True) as session:
        if outbox is not None:
            sent = session.execute(delete(outbox).where(outbox.c.sent_at < cutoff)).rowcount or 0
        if inbox is not None:
            received = session.execute(delete(inbox).where(inbox.c.received_at < cutoff)).rowcount or 0
    if sent or received:
        log.info("retention: removed %d sent outbox rows and %d inbox rows", sent, received)
    return sent, received
