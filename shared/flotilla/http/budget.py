"""A retry budget: retries may add at most ``ratio`` extra calls per call made.

Every call deposits ``ratio`` tokens (up to ``cap``); a retry spends one. Starting
from an empty balance, N calls can never cause more than ``ratio * N`` retries,
so a failing upstream sees at most ``(1 + ratio)`` requests per call, while a
healthy stream of traffic saves up enough (``cap``) to ride out a blip.
"""

from __future__ import annotations

import threading


class RetryBudget:
    def __init__(self, ratio: float = 0.2, cap: float = 10.0) -> None:
        self.ratio = ratio
        self.cap = cap
        self._balance = 0.0
        self._lock = threading.Lock()

    def deposit(self) -> None:
        with self._lock:
            self._balance = min(self.cap, self._balance + self.ratio)

    def try_spend(self) -> bool:
        with self._lock:
            if self._balance >= 1.0 - 1e-9:  # five deposits of 0.2 make a retry
                self._balance -= 1.0
                return True
            return False

    @property
    def balance(self) -> float:
        return self._balance
