"""Pending timeout: the sweeper cancels, and the reservation catalog makes later is released
(real workers and broker, SQLite and PostgreSQL; its own platform, for its short timeout)."""

from __future__ import annotations

import pytest

from catalog.repository import outbox as catalog_outbox
from flotilla.testing import wait_for

pytestmark = pytest.mark.slow  # real RabbitMQ, both workers and APIs


def test_pending_timeout_cancels_and_the_late_reservation_is_released(make_platform):
    platform = make_platform(ORDERS_PENDING_TIMEOUT_SECONDS="1").start_workers()
    pid = platform.product(stock=10)
    platform.catalog_worker.stop()  # its queue stays: order.placed waits there
    _, headers = platform.customer()
    order = platform.place(headers, [(pid, 4)]).json()
    wait_for(lambda: platform.status_of(order["id"])[0] == "cancelled", timeout=20, what="the sweeper")
    reason = platform.status_of(order["id"])[1]
    platform.catalog_worker.start()  # now catalog reserves (late), then releases
    wait_for(lambda: platform.outbox_rows(platform.catalog_db, catalog_outbox, "stock.released.v1"),
             timeout=20, what="the late reservation to be released")
    wait_for(lambda: platform.orders_worker.metric("flotilla_events_consumed_total", outcome="applied") >= 1,
             timeout=20, what="orders to hear of the late reservation")
    reserved = platform.outbox_rows(platform.catalog_db, catalog_outbox, "stock.reserved.v1")
    print(f"\npending timeout 1s: status {platform.status_of(order['id'])[0]} ({reason}), late "
          f"reservations {len(reserved)}, stock {platform.stock(pid)}, "
          f"audit discrepancies {platform.audit_discrepancies()}")
    assert reason == "not confirmed within 1 seconds"
    assert platform.orders_worker.metric("flotilla_orders_timed_out_total") == 1
    assert platform.status_of(order["id"])[0] == "cancelled" and platform.stock(pid) == 10
    assert platform.audit_discrepancies() == 0
