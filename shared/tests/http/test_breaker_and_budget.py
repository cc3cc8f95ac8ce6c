"""The circuit breaker's states and the retry budget's arithmetic, on a fake clock."""

from __future__ import annotations

from flotilla.http import CircuitBreaker, RetryBudget
from flotilla.http.breaker import CLOSED, HALF_OPEN, OPEN


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_a_success_resets_the_count():
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=5, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()


def test_half_open_lets_one_probe_through_and_its_success_closes():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5, clock=clock)
    breaker.record_failure()
    assert breaker.retry_after() == 5
    clock.now = 5.0
    assert breaker.state == HALF_OPEN
    assert breaker.allow() is True  # the probe
    assert breaker.allow() is False  # everyone else waits for it
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()


def test_a_failed_probe_opens_for_another_period():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5, clock=clock)
    breaker.record_failure()
    clock.now = 6.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN and breaker.retry_after() == 5
    clock.now = 10.9
    assert not breaker.allow()
    clock.now = 11.0
    assert breaker.allow()


def test_a_lost_probe_frees_its_slot_after_the_reset_timeout():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5, clock=clock)
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.allow()
    clock.now = 9.0
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.allow()


def test_budget_allows_one_retry_per_five_calls_and_caps_its_savings():
    budget = RetryBudget(ratio=0.2, cap=2)
    spent = 0
    for _ in range(100):
        budget.deposit()
        spent += budget.try_spend()
    assert spent == 20
    for _ in range(100):
        budget.deposit()
    assert budget.try_spend() and budget.try_spend() and not budget.try_spend()
