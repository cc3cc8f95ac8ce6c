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

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

from flask import Flask

from flotilla.auth.tokens import Caller

log = logging.getLogger(__name__)

EXTENSION = "flotilla_revocation"
RevocationCheck = Callable[[Caller], bool]


class RevocationList:
    def __init__(self, retain_seconds: float = 15 * 60 + 60, clock: Callable[[], float] = time.time) -> None:
        self.retain_seconds = retain_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before: dict[uuid.UUID, tuple[float, float]] = {}  # user -> (not before, expires)
        self._tokens: dict[str, float] = {}  # jti -> expires
        self._sessions: dict[str, float] = {}  # sid (refresh family) -> expires

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

    def revoke_session(self, session_id: str) -> None:
        """Refuse every access token of one login session (logged out, or its refresh reused)."""
        with self._lock:
            self._sessions[session_id] = self._clock() + self.retain_seconds

    def is_revoked(self, caller: Caller) -> bool:
        now = self._clock()
        with self._lock:
            if caller.token_id is not None and self._tokens.get(caller.token_id, 0) > now:
                return True
            if caller.session_id is not None and self._sessions.get(caller.session_id, 0) > now:
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
            sessions = [s for s, exp in self._sessions.items() if exp <= now]
            for u in users:
                del self._not_before[u]
            for t in tokens:
                del self._tokens[t]
            for s in sessions:
                del self._sessions[s]
        return len(users) + len(tokens) + len(sessions)

    def __len__(self) -> int:
        with self._lock:
            return len(self._not_before) + len(self._tokens) + len(self._sessions)


def install(app: Flask, check: RevocationCheck) -> None:
    """Refuse (401) callers for whom ``check`` answers ``True``, after their token is verified."""
    app.extensions[EXTENSION] = check


class RevocationPoller:
    """Keeps a :class:`RevocationList` in step with users' ``/auth/revocations.json``.

    One daemon thread per process (started on the process's first request, so each gunicorn
    worker forked from a preloaded master has its own), asking every ``interval`` seconds with
    ``If-None-Match``: an unchanged list is a 304 of a few bytes. When users cannot be reached
    the list keeps what it had and the poller tries again at the next tick.
    """

    def __init__(self, url: str, revocations: RevocationList, *, interval: float = 1.0,
                 timeout: float = 1.0) -> None:
        self.url, self.revocations, self.interval, self.timeout = url, revocations, interval, timeout
        self._etag: str | None = None
        self._started_in: int | None = None
        self._lock = threading.Lock()
        self.polls = 0

    def poll_once(self) -> bool:
        """Fetch once; ``True`` when the list changed."""
        headers = {"Accept": "application/json"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        request = urllib.request.Request(self.url, headers=headers)  # noqa: S310
        self.polls += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read())
                self._etag = response.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return False
            raise
        for entry in body.get("users", []):
            self.revocations.revoke_user(uuid.UUID(entry["user_id"]), float(entry["not_before"]))
        for token_id in body.get("tokens", []):
            self.revocations.revoke_token(str(token_id))
        for session_id in body.get("sessions", []):
            self.revocations.revoke_session(str(session_id))
        self.revocations.prune()
        return True

    def run(self) -> None:
        while True:
            try:
                self.poll_once()
            except Exception as exc:
                log.debug("revocations not fetched from %s: %s", self.url, exc)
            time.sleep(self.interval)

    def ensure_started(self) -> None:
        """Start this process's polling thread unless it runs already (fork-safe)."""
        pid = os.getpid()
        if self._started_in == pid:
            return
        with self._lock:
            if self._started_in == pid:
                return
            try:
                self.poll_once()  # primed before the first request is answered
            except Exception as exc:
                log.warning("revocations not primed from %s: %s", self.url, exc)
            threading.Thread(target=self.run, name="revocations", daemon=True).start()
            self._started_in = pid


def revocations_url(jwks_url: str) -> str:
    """users' revocation list beside its JWKS (``.../auth/jwks.json`` -> ``.../auth/revocations.json``)."""
    base, _, _ = jwks_url.rpartition("/")
    return f"{base}/revocations.json"


def install_poller(app: Flask, url: str, interval: float = 1.0) -> RevocationPoller:
    """Check callers against a list polled from ``url``; the thread starts on the first request."""
    revocations = RevocationList()
    poller = RevocationPoller(url, revocations, interval=interval)
    install(app, revocations.is_revoked)
    app.extensions["flotilla_revocation_poller"] = poller
    app.before_request(poller.ensure_started)
    return poller
