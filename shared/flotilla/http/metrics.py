"""The service client's metrics: circuit breakers (state, transitions) per upstream instance
and retries spent from (or refused by) the retry budget per upstream.

Process-wide, in this module's registry; ``flotilla.metrics.init_app`` adds them to every
app's registry, and under gunicorn prometheus_client's multiprocess files carry them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from flotilla.http.breaker import CLOSED, HALF_OPEN, OPEN

REGISTRY = CollectorRegistry(auto_describe=True)
STATES = (CLOSED, HALF_OPEN, OPEN)

breaker_state = Gauge("flotilla_circuit_breaker_state",
                      "1 for the state each upstream instance's breaker is in (closed, half-open, open)",
                      ["upstream_url", "state"], registry=REGISTRY, multiprocess_mode="livemax")
breaker_transitions = Counter("flotilla_circuit_breaker_transitions_total",
                              "Breaker state changes per upstream instance, by the state entered",
                              ["upstream_url", "to"], registry=REGISTRY)
retries_spent = Counter("flotilla_retry_budget_spent_total",
                        "Retries made, each paid from the upstream's retry budget", ["upstream"],
                        registry=REGISTRY)
retries_refused = Counter("flotilla_retry_budget_exhausted_total",
                          "Retries not made because the upstream's retry budget was empty", ["upstream"],
                          registry=REGISTRY)
COLLECTORS = (breaker_state, breaker_transitions, retries_spent, retries_refused)


def breaker_seen(instance: str) -> None:
    """A new breaker starts closed."""
    for state in STATES:
        breaker_state.labels(upstream_url=instance, state=state).set(1 if state == CLOSED else 0)


def breaker_changed(instance: str, old: str, new: str) -> None:
    breaker_state.labels(upstream_url=instance, state=old).set(0)
    breaker_state.labels(upstream_url=instance, state=new).set(1)
    breaker_transitions.labels(upstream_url=instance, to=new).inc()


def retry(upstream: str, spent: bool) -> None:
    (retries_spent if spent else retries_refused).labels(upstream=upstream).inc()
