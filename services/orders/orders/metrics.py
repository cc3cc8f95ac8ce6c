"""Orders' business metrics: orders by outcome and the saga's duration, placed -> final.

The metrics live in this module's registry. The API adds them to its own registry (and,
under gunicorn, prometheus_client's multiprocess files carry them to ``/metrics``); the
worker adds them to its registry. An outcome is counted once its transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

from orders.model import Order, OrderStatus, utcnow

REGISTRY = CollectorRegistry(auto_describe=True)
OUTCOMES = ("placed", "confirmed", "rejected", "cancelled")
# Placed -> confirmed takes a relay hop and two consumers (milliseconds to seconds); a
# pending order the sweeper cancels waits its whole timeout (minutes).
SAGA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600)

orders_total = Counter("flotilla_orders_total", "Orders by outcome (placed, confirmed, rejected, cancelled)",
                       ["service", "outcome"], registry=REGISTRY)
saga_duration = Histogram("flotilla_order_saga_duration_seconds",
                          "Placed to the saga's end: confirmed, rejected, or cancelled while pending",
                          ["service", "outcome"], buckets=SAGA_BUCKETS, registry=REGISTRY)
for _outcome in OUTCOMES:  # every series exists from the start, at 0
    orders_total.labels(service="orders", outcome=_outcome)


_PENDING = "flotilla_orders_metrics"  # Session.info key: what to record at commit


def placed(session: Session) -> None:
    """An order was stored pending in ``session``'s transaction."""
    _on_commit(session, lambda: orders_total.labels(service="orders", outcome="placed").inc())


def moved(session: Session, order: Order, *, was_pending: bool) -> None:
    """``order`` just moved on in ``session``'s transaction (confirmed, rejected or cancelled)."""
    outcome = OrderStatus(order.status).value
    seconds = max(0.0, (utcnow() - order.created_at).total_seconds())

    def record() -> None:
        orders_total.labels(service="orders", outcome=outcome).inc()
        if was_pending:
            saga_duration.labels(service="orders", outcome=outcome).observe(seconds)
    _on_commit(session, record)


def _on_commit(session: Session, record: Callable[[], None]) -> None:
    session.info.setdefault(_PENDING, []).append(record)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for record in session.info.pop(_PENDING, []):
        record()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def register_into(registry: CollectorRegistry) -> None:
    for collector in (orders_total, saga_duration):
        registry.register(collector)
