"""Revoked identities: a small in-process set checked wherever a token is verified.

A :class:`RevocationList` holds, per user, a *not-before* time (tokens issued before it
are refused: account deleted, every session logged out) and single token ids (``jti``).
Entries are kept only as long as a token they could refuse can still be alive (the access
token's lifetime plus leeway), so the set stays small. It is thread-safe: one per process.

``install(app, check)`` makes :func:`flotilla.auth.guards.authenticate` ask ``check`` about
every verified caller; a ``True`` answer is a 401 (``invalid_token``). A service that owns
the identities (users) passes a check reading its own database instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from flask import Flask

from flotilla.auth.tokens import Caller

EXTENSION = "flotilla_revocation"
RevocationCheck = Callable[[Caller], bool]


class RevocationList:
    def __init__(self, retain_seconds: float = 15 * 60 + 60, clock: Callable[[], float] = time.time) -> None:
        self.retain_seconds = retain_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before: dict[uuid.UUID, tuple[float, float]] = {}  # user -> (not before, expires)
        self._tokens: dict[str, float] = {}  # jti -> expires

    def revoke_user(self, user_id: uuid.UUID, not_before: float) -> None:
        """Refuse every token of ``user_id`` issued before ``not_before`` (epoch seconds)."""
        expires = self._clock() + self.retain_seconds
        with self._lock:
            previous = self._not_before.get(user_id)
            if previous is None or previous[0] < not_before:
                self._not_before[user_id] = (not_before, expires)

    def revoke_token(self, token_id: str) -> None:
        with self._lock:
            self._tokens[token_id] = self._clock() + self.retain_seconds

    def is_revoked(self, caller: Caller) -> bool:
        now = self._clock()
        with self._lock:
            if caller.token_id is not None and self._tokens.get(caller.token_id, 0) > now:
                return True
            entry = self._not_before.get(caller.user_id)
        if entry is None or entry[1] <= now:
            return False
        # A token without ``iat`` cannot prove it is newer than the revocation.
        return caller.issued_at is None or caller.issued_at <= entry[0]

    def prune(self) -> int:
        """Forget entries no live token can match; returns how many were dropped."""
        now = self._clock()
        with self._lock:
            users = [u for u, (_, exp) in self._not_before.items() if exp <= now]
            tokens = [t for t, exp in self._tokens.items() if exp <= now]
            for u in users:
                del self._not_before[u]
            for t in tokens:
                del self._tokens[t]
        return len(users) + len(tokens)

    def __len__(self) -> int:
        with self._lock:
            return len(self._not_before) + len(self._tokens)


def install(app: Flask, check: RevocationCheck) -> None:
    """Refuse (401) callers for whom ``check`` answers ``True``, after their token is verified."""
    app.extensions[EXTENSION] = check
