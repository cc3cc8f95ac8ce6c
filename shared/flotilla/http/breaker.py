"""A circuit breaker per upstream instance, with one half-open probe at a time.

Closed: calls pass; ``failure_threshold`` consecutive failures open it.
Open: calls are refused until ``reset_timeout`` has passed.
Half-open: one probe call passes (others are still refused); its success closes
the breaker, its failure opens it again for another ``reset_timeout``.
A probe whose outcome is never reported frees its slot after ``reset_timeout``.
See docs/decisions/0041-gateway-circuit-breaker.md for why not pybreaker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_change = on_change  # told (old, new) whenever a change of state is seen
        self._seen = CLOSED
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> str:
        if self._opened_at is None:
            state = CLOSED
        else:
            state = OPEN if now - self._opened_at < self.reset_timeout else HALF_OPEN
        if state != self._seen:  # open -> half-open happens with time: reported when first seen
            old, self._seen = self._seen, state
            if self._on_change is not None:
                self._on_change(old, state)
        return state

    def allow(self) -> bool:
        """May a call go to this instance now? In half-open, claims the single probe slot."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == CLOSED:
                return True
            if state == OPEN:
                return False
            probe_stale = (self._probe_started is not None
                           and now - self._probe_started >= self.reset_timeout)
            if self._probe_started is None or probe_stale:
                self._probe_started = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe_started = None
            self._state(self._clock())

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:  # a failed probe: open for another period
                self._state(now)
                self._opened_at = now
                self._probe_started = None
                self._state(now)
                return
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._opened_at = now
                self._state(now)

    def retry_after(self) -> float:
        """Seconds until this breaker lets a probe through (0 when it would now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))


class BreakerRegistry:
    """One breaker per key (an instance's base URL), made on first use."""

    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._make = lambda key: CircuitBreaker(failure_threshold, reset_timeout, clock,
                                                on_change=lambda old, new: self._changed(key, old, new))
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        # Told (key, old, new) on every change of state, and (key) when a breaker is made.
        self.on_change: Callable[[str, str, str], None] | None = None
        self.on_new: Callable[[str], None] | None = None

    def _changed(self, key: str, old: str, new: str) -> None:
        if self.on_change is not None:
            self.on_change(key, old, new)

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(key)
                if breaker is None:
                    breaker = self._breakers[key] = self._make(key)
                    if self.on_new is not None:
                        self.on_new(key)
        return breaker

    def states(self) -> dict[str, str]:
        return {key: b.state for key, b in list(self._breakers.items())}
