"""Login throttling with counters in the users database, shared by every worker and replica.

Each login attempt is counted as a failure *before* the password is checked, in a write
transaction that locks the counter rows, so concurrent attempts in several workers cannot
slip past the limit; a success then clears the account's counter and gives the address its
attempt back. Why the database and not Flask-Limiter: docs/decisions/0012-users-login-throttling.md.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flotilla.db import UTCDateTime
from users.model import LoginThrottled


def login_failures_table(metadata: MetaData) -> Table:
    return Table(
        "login_failures", metadata,
        Column("key", String(80), primary_key=True),  # hashed: no email or address stored
        Column("failures", Integer, nullable=False),
        Column("window_started_at", UTCDateTime, nullable=False),
    )


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.encode()).hexdigest()


def address_key(address: str) -> str:
    return "address:" + hashlib.sha256(address.encode()).hexdigest()


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


class LoginFailureRepository:
    def __init__(self, session: Session, table: Table) -> None:
        self.session = session
        self.table = table

    def lock(self, key: str, now: datetime) -> tuple[int, datetime]:
        """The counter for ``key`` (created at zero), locked until the transaction ends."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(insert(self.table).values(key=key, failures=0, window_started_at=now)
                             .on_conflict_do_nothing(index_elements=["key"]))
        c = self.table.c
        row = self.session.execute(select(c.failures, c.window_started_at).where(c.key == key)
                                   .with_for_update()).one()
        return int(row.failures), row.window_started_at

    def set(self, key: str, failures: int, window_started_at: datetime) -> None:
        self.session.execute(update(self.table).where(self.table.c.key == key)
                             .values(failures=failures, window_started_at=window_started_at))

    def forget(self, key: str) -> None:
        self.session.execute(delete(self.table).where(self.table.c.key == key))


class LoginThrottle:
    def __init__(self, window: timedelta) -> None:
        self.window = window

    def admit(self, repo: LoginFailureRepository, limits: Sequence[Limit], now: datetime) -> None:
        """Count this attempt against every limit, or raise ``LoginThrottled`` if one is used up."""
        counters: dict[str, tuple[int, datetime]] = {}
        retry_after = 0
        for limit in sorted(limits, key=lambda lim: lim.key):  # one lock order: no deadlocks
            failures, started = repo.lock(limit.key, now)
            if now - started >= self.window:
                failures, started = 0, now
            if failures >= limit.max_failures:
                wait = (started + self.window - now).total_seconds()
                retry_after = max(retry_after, math.ceil(wait), 1)
            counters[limit.key] = (failures, started)
        if retry_after:
            raise LoginThrottled(retry_after)
        for key, (failures, started) in counters.items():
            repo.set(key, failures + 1, started)

    def succeeded(self, repo: LoginFailureRepository, account: str, address: str, now: datetime) -> None:
        repo.forget(account)
        failures, started = repo.lock(address, now)
        repo.set(address, max(0, failures - 1), started)
