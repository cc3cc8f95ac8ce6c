"""The pending-timeout sweeper: an order still ``pending`` after the configured time is
cancelled (and ``order.cancelled`` asks catalog to release anything it holds). The same
thread purges idempotency keys older than their window (``ORDERS_IDEMPOTENCY_WINDOW_SECONDS``).

Runs as a thread of the orders worker; several workers may sweep at once, since each
order is re-read under a row lock and only a still-pending one is cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from flotilla.db import Database, utcnow
from orders.model import OrderStatus
from orders.service import cancel
from orders.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def sweep_once(db: Database, timeout_s: float, batch: int = 100) -> int:
    """Cancel up to ``batch`` orders pending for more than ``timeout_s``; returns how many."""
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    reason = f"not confirmed within {timeout_s:g} seconds"
    cancelled = 0
    with UnitOfWork(db, write=True) as uow:
        for order_id in uow.orders.pending_ids_before(cutoff, batch):
            order = uow.orders.get(order_id, for_update=True)
            if order is not None and order.status == OrderStatus.PENDING:
                cancel(uow, order, reason)
                cancelled += 1
    return cancelled


def purge_idempotency_keys(db: Database, window_s: float, batch: int = 1000) -> int:
    """Forget up to ``batch`` idempotency keys older than ``window_s``; returns how many."""
    with UnitOfWork(db, write=True) as uow:
        return uow.orders.forget_idempotency_keys_before(utcnow() - timedelta(seconds=window_s), batch)


ERASED_REASON = "the customer's account was deleted"


def cancel_orders_of_erased(db: Database, batch: int = 100, keep_s: float = 3600.0) -> int:
    """Cancel live orders of customers erased already (they slipped in while the revocation
    travelled); forget erasures older than ``keep_s``. Returns how many orders were cancelled."""
    cancelled = 0
    with UnitOfWork(db, write=True) as uow:
        for order_id in uow.orders.live_ids_of_erased(batch):
            order = uow.orders.get(order_id, for_update=True)
            if order is not None and order.is_live:
                cancel(uow, order, ERASED_REASON)
                cancelled += 1
        uow.orders.forget_erased_before(utcnow() - timedelta(seconds=keep_s))
    return cancelled


class Sweeper:
    def __init__(self, db: Database, timeout_s: float, interval_s: float, batch: int = 100,
                 on_cancel: Callable[[int], None] | None = None,
                 idempotency_window_s: float | None = None) -> None:
        self.db, self.timeout_s, self.interval_s, self.batch = db, timeout_s, interval_s, batch
        self.idempotency_window_s = idempotency_window_s  # None: keys are never purged
        self.on_cancel = on_cancel  # told how many orders each sweep cancelled (metrics)
        self.cancelled = 0

    def run(self, stop: threading.Event) -> None:
        """Sweep every ``interval_s`` until ``stop`` is set; errors are logged, never fatal."""
        while not stop.wait(self.interval_s):
            try:
                while (n := sweep_once(self.db, self.timeout_s, self.batch)) > 0:
                    self.cancelled += n
                    if self.on_cancel is not None:
                        self.on_cancel(n)
                    log.info("sweeper: cancelled %d order(s) pending for over %gs", n, self.timeout_s)
                    if stop.is_set() or n < self.batch:
                        break
                self.cancelled += cancel_orders_of_erased(self.db, self.batch)
                if self.idempotency_window_s is not None:
                    while (n := purge_idempotency_keys(self.db, self.idempotency_window_s)) > 0:
                        log.info("sweeper: purged %d idempotency key(s) older than %gs",
                                 n, self.idempotency_window_s)
                        if stop.is_set() or n < 1000:
                            break
            except Exception:
                log.exception("sweeper: sweep failed; trying again in %gs", self.interval_s)
