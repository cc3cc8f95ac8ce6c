"""Users' security metrics: failed logins, throttled logins, refresh-token revocations.

Process-wide, in this module's registry; the app adds them to its own (gunicorn's
multiprocess files carry them to ``/metrics``). Counted once the transaction committed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)
REVOCATION_REASONS = ("logout", "reuse", "erasure")

login_failures = Counter("flotilla_users_login_failures_total",
                         "Logins refused for a wrong email or password", ["service"], registry=REGISTRY)
logins_throttled = Counter("flotilla_users_logins_throttled_total",
                           "Logins refused unchecked because an account or address used up its attempts",
                           ["service"], registry=REGISTRY)
revocations = Counter("flotilla_users_token_revocations_total",
                      "Refresh-token families revoked, by reason (logout, reuse, erasure)",
                      ["service", "reason"], registry=REGISTRY)
login_failures.labels(service="users")
logins_throttled.labels(service="users")
for _reason in REVOCATION_REASONS:  # every series exists from the start, at 0
    revocations.labels(service="users", reason=_reason)
COLLECTORS = (login_failures, logins_throttled, revocations)


def failed() -> None:
    login_failures.labels(service="users").inc()


def throttled() -> None:
    logins_throttled.labels(service="users").inc()


def revoked(reason: str) -> None:
    revocations.labels(service="users", reason=reason).inc()
