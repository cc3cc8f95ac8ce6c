"""LoginThrottle's policy, with an in-memory repository in place of the table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flotilla.db import utcnow
from users.model import LoginThrottled
from users.throttle import Limit, LoginFailureRepository, LoginThrottle, account_key, address_key


class MemoryFailures(LoginFailureRepository):
    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, datetime]] = {}

    def lock(self, key: str, now: datetime) -> tuple[int, datetime]:
        return self.rows.setdefault(key, (0, now))

    def set(self, key: str, failures: int, window_started_at: datetime) -> None:
        self.rows[key] = (failures, window_started_at)

    def forget(self, key: str) -> None:
        self.rows.pop(key, None)


WINDOW = timedelta(minutes=15)
ACCOUNT, ADDRESS = account_key("a@b.org"), address_key("127.0.0.1")


def _limits(per_account: int = 3, per_address: int = 10) -> list[Limit]:
    return [Limit(ACCOUNT, per_account), Limit(ADDRESS, per_address)]


def test_attempts_up_to_the_limit_pass_then_are_throttled_until_the_window_ends():
    repo, throttle, t0 = MemoryFailures(), LoginThrottle(WINDOW), utcnow()
    for i in range(3):
        throttle.admit(repo, _limits(), t0 + timedelta(seconds=i))
    with pytest.raises(LoginThrottled) as caught:
        throttle.admit(repo, _limits(), t0 + timedelta(minutes=5))
    assert caught.value.retry_after == 600
    throttle.admit(repo, _limits(), t0 + WINDOW)  # a new window


def test_a_throttled_attempt_counts_against_nothing():
    repo, throttle, t0 = MemoryFailures(), LoginThrottle(WINDOW), utcnow()
    for _ in range(3):
        throttle.admit(repo, _limits(), t0)
    for _ in range(5):
        with pytest.raises(LoginThrottled):
            throttle.admit(repo, _limits(), t0)
    assert repo.rows[ADDRESS][0] == 3


def test_success_clears_the_account_and_returns_the_address_attempt():
    repo, throttle, t0 = MemoryFailures(), LoginThrottle(WINDOW), utcnow()
    for _ in range(2):
        throttle.admit(repo, _limits(), t0)
    throttle.admit(repo, _limits(), t0)
    throttle.succeeded(repo, ACCOUNT, ADDRESS, t0)
    assert ACCOUNT not in repo.rows
    assert repo.rows[ADDRESS][0] == 2


def test_keys_do_not_store_the_email_or_address():
    assert "a@b.org" not in ACCOUNT and "127.0.0.1" not in ADDRESS
    assert len(ACCOUNT) <= 80 and len(ADDRESS) <= 80
