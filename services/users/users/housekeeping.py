"""Dropping rows nobody needs any more: long-expired refresh tokens, ended throttle windows,
revoked access tokens past their expiry.

Run ``users purge`` from cron (or a Kubernetes CronJob); it is safe to run at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from flotilla.db import utcnow
from flotilla.unit_of_work import UnitOfWorkFactory
from users.repository import UnitOfWork, login_failures, refresh_tokens, revoked_access_tokens

#: Expired refresh tokens are kept a while so a late reuse is still recognised as one.
REFRESH_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    refresh_tokens: int
    login_counters: int
    revoked_access_tokens: int = 0


def purge(uow: UnitOfWorkFactory[UnitOfWork], login_window: int, now: datetime | None = None) -> Purged:
    now = now or utcnow()
    with uow(write=True) as tx:
        session = tx.session
        tokens = session.execute(delete(refresh_tokens)
                                 .where(refresh_tokens.c.expires_at < now - REFRESH_GRACE))
        counters = session.execute(delete(login_failures).where(
            login_failures.c.window_started_at < now - timedelta(seconds=login_window)))
        revoked = session.execute(delete(revoked_access_tokens)
                                  .where(revoked_access_tokens.c.expires_at < now))
    return Purged(tokens.rowcount or 0, counters.rowcount or 0, revoked.rowcount or 0)
