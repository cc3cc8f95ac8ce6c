"""A fresh broker, orders' worker started alone: the order.placed it relays is kept for catalog,
whose worker starts later, and the order is confirmed (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from flotilla.testing import wait_for
from orders.repository import outbox as orders_outbox

pytestmark = pytest.mark.slow  # real RabbitMQ, both workers and APIs

#: How long catalog's worker stays away after the event went out (the issue's 20 s, shortened:
#: what matters is that the event was published before catalog's queue was ever declared).
LATE_BY_SECONDS = 3


def test_order_placed_before_catalogs_worker_ever_ran_is_confirmed(make_platform):
    platform = make_platform()  # every queue deleted: a broker that has never seen catalog
    pid = platform.product(stock=5)
    platform.orders_worker.start()
    _, headers = platform.customer()
    order = platform.place(headers, [(pid, 2)]).json()

    def relayed() -> bool:
        stmt = select(orders_outbox.c.sent_at).where(orders_outbox.c.aggregate_id == order["id"])
        with platform.orders_db.session() as session:
            return all(sent is not None for sent in session.scalars(stmt))

    wait_for(relayed, timeout=20, what="order.placed to be published")
    time.sleep(LATE_BY_SECONDS)  # the span the event spends with no consumer running
    platform.catalog_worker.start()
    wait_for(lambda: platform.status_of(order["id"])[0] == "confirmed", timeout=30,
             what="the order to be confirmed")
    assert platform.stock(pid) == 3 and platform.audit_discrepancies() == 0
