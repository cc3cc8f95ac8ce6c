"""The saga under faults: catalog away, duplicates, deleted users (real workers and broker; the
module shares one platform per database backend)."""

from __future__ import annotations

import time
import uuid

import pytest

from catalog.repository import outbox as catalog_outbox
from flotilla.events import Envelope
from flotilla.testing import wait_for
from orders.repository import outbox as orders_outbox

pytestmark = pytest.mark.slow  # real RabbitMQ, both workers and APIs

CONSUMED = "flotilla_events_consumed_total"


def _place_until_accepted(platform, headers, items, timeout=15.0):
    """A client that honours 503 + Retry-After (briefly) until the order is accepted."""
    deadline = time.monotonic() + timeout
    key = uuid.uuid4().hex  # the same key on every retry: at most one order
    while True:
        response = platform.place(headers, items, key=key)
        if response.status_code == 202 or time.monotonic() > deadline:
            return response
        assert response.status_code == 503 and "Retry-After" in response.headers
        time.sleep(0.2)


def test_catalog_down_for_seconds_then_back_leaves_no_order_pending(shared_platform):
    platform = shared_platform
    pid = platform.product(stock=100)
    _, headers = platform.customer()
    accepted = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    platform.catalog_worker.stop()  # catalog cannot answer the saga: orders wait, pending
    accepted += [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    pending_while_down = platform.statuses([r.json()["id"] for r in accepted]).get("pending", 0)
    platform.catalog_api.stop()  # nor price new ones: 503, nothing stored
    refused = [platform.place(headers, [(pid, 1)]) for _ in range(5)]
    time.sleep(2)  # catalog stays away for a while (the outage itself, not synchronisation)
    platform.catalog_api.start()
    platform.catalog_worker.start()
    accepted += [_place_until_accepted(platform, headers, [(pid, 1)]) for _ in range(5)]
    statuses = platform.wait_none_pending([r.json()["id"] for r in accepted])
    print(f"\ncatalog down ~2s: accepted {len(accepted)}, refused 503 {len(refused)}, pending while down "
          f"{pending_while_down}, final {statuses}, stock {platform.stock(pid)}, "
          f"audit discrepancies {platform.audit_discrepancies()}")
    assert [r.status_code for r in accepted] == [202] * 15
    assert {r.status_code for r in refused} == {503} and all("Retry-After" in r.headers for r in refused)
    assert pending_while_down >= 5
    assert statuses == {"confirmed": 15}
    assert platform.stock(pid) == 85 and platform.audit_discrepancies() == 0


def test_duplicate_deliveries_reserve_nothing_twice(shared_platform):
    platform = shared_platform
    pid = platform.product(stock=50)
    _, headers = platform.customer()
    ids = [platform.place(headers, [(pid, 2)]).json()["id"] for _ in range(5)]
    platform.wait_none_pending(ids)
    placed = platform.outbox_rows(platform.orders_db, orders_outbox, "order.placed.v1", ids)
    reserved = platform.outbox_rows(platform.catalog_db, catalog_outbox, "stock.reserved.v1", ids)
    workers = (platform.catalog_worker, platform.orders_worker)
    before = [(w.metric(CONSUMED, outcome="duplicate"), w.metric(CONSUMED, outcome="applied"))
              for w in workers]
    for rows, key in ((placed, "order.placed.v1"), (reserved, "stock.reserved.v1")):
        for row in rows:
            platform.publish(key, row.envelope, row.message_id)  # a redelivery: the same message
            again = Envelope.model_validate_json(row.envelope).model_copy(update={"id": uuid.uuid4().hex})
            platform.publish(key, again.model_dump_json(), again.id)  # the producer emitted it twice
    wait_for(lambda: all(w.metric(CONSUMED, outcome="duplicate") >= dup + 5
                         and w.metric(CONSUMED, outcome="applied") >= applied + 5
                         for w, (dup, applied) in zip(workers, before, strict=True)),
             timeout=20, what="the duplicates to be consumed")
    answers = len(platform.outbox_rows(platform.catalog_db, catalog_outbox, "stock.reserved.v1", ids))
    doubles = platform.double_reservations()
    print(f"\nduplicates injected: order.placed x{2 * len(placed)}, stock.reserved x{2 * len(reserved)}; "
          f"double reservations {doubles}, stock.reserved emitted {answers}, stock {platform.stock(pid)}, "
          f"statuses {platform.statuses(ids)}, audit discrepancies {platform.audit_discrepancies()}")
    assert doubles == 0 and answers == 5
    assert platform.stock(pid) == 40 and platform.statuses(ids) == {"confirmed": 5}
    assert platform.audit_discrepancies() == 0


def test_a_deleted_users_live_orders_are_cancelled_and_their_stock_released(shared_platform):
    """users' own DELETE /users/me -> user.deleted through users-worker -> orders-worker."""
    platform = shared_platform
    accounts = platform.start_users().test_client()
    email, password = f"{uuid.uuid4().hex[:10]}@example.org", "a long password"
    user_id = accounts.post("/auth/register", json={"email": email, "password": password,
                                                    "name": "Ada"}).json["id"]
    login = accounts.post("/auth/login", json={"email": email, "password": password}).json
    pid = platform.product(stock=20)
    headers = platform.minter.bearer(user_id)  # orders and catalog trust the tests' key
    _, other = platform.customer()
    mine = [platform.place(headers, [(pid, 2)]).json()["id"] for _ in range(2)]
    theirs = platform.place(other, [(pid, 1)]).json()["id"]
    platform.wait_none_pending([*mine, theirs])
    platform.catalog_worker.stop()
    mine.append(platform.place(headers, [(pid, 3)]).json()["id"])  # stays pending for now
    assert accounts.delete("/users/me", headers={"Authorization": f"Bearer {login['access_token']}"}
                           ).status_code == 204
    wait_for(lambda: all(platform.status_of(o)[0] == "cancelled" for o in mine), timeout=20,
             what="the user's orders to be cancelled")
    platform.catalog_worker.start()
    wait_for(lambda: platform.stock(pid) == 19, timeout=20, what="the stock to come back")
    print(f"\nuser deleted: their orders {[platform.status_of(o)[0] for o in mine]}, other user's "
          f"{platform.status_of(theirs)[0]}, stock {platform.stock(pid)} of 20 (1 held for the other), "
          f"audit discrepancies {platform.audit_discrepancies()}")
    assert platform.status_of(theirs)[0] == "confirmed"
    assert {platform.status_of(o)[1] for o in mine} == {"the customer's account was deleted"}
    assert platform.audit_discrepancies() == 0
