"""Orders by outcome and the saga's duration on /metrics, counted once their transaction
committed (the metrics are process-wide, so the tests compare before and after)."""

from __future__ import annotations

import uuid

import pytest

from flotilla.events.envelope import wrap
from flotilla.testing import metric_value
from orders.bootstrap import orders_of
from orders.events import StockRejected, StockReserved
from orders.saga import on_stock_rejected, on_stock_reserved


def _scrape(client) -> str:
    return client.get("/metrics").get_data(as_text=True)


def _orders(text: str, outcome: str) -> float:
    return metric_value(text, "flotilla_orders_total", service="orders", outcome=outcome)


def _saga(text: str, outcome: str) -> float:
    return metric_value(text, "flotilla_order_saga_duration_seconds_count", service="orders", outcome=outcome)


def _place(client, headers, pid) -> str:
    response = client.post("/orders", json={"items": [{"product_id": pid, "quantity": 1}]},
                           headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 202, response.json
    return response.json["id"]


def test_placed_confirmed_rejected_cancelled_and_the_saga_histogram(client, customer, make_product, app):
    db = orders_of(app).db
    pid = make_product()["id"]
    _, headers = customer()
    before = _scrape(client)
    confirmed, rejected, cancelled = (_place(client, headers, pid) for _ in range(3))
    key = uuid.uuid4().hex  # a replayed request is not a second order
    for _ in range(2):
        client.post("/orders", json={"items": [{"product_id": pid, "quantity": 1}]},
                    headers={**headers, "Idempotency-Key": key})
    for handler, event in ((on_stock_reserved, StockReserved(order_id=uuid.UUID(confirmed))),
                           (on_stock_rejected, StockRejected(order_id=uuid.UUID(rejected), lines=[]))):
        with db.session(write=True) as session:
            handler(session, wrap(event, "/flotilla/test"), event)
    assert client.post(f"/orders/{cancelled}/cancel", headers=headers).status_code == 200
    assert client.post(f"/orders/{confirmed}/cancel", headers=headers).status_code == 200
    after = _scrape(client)

    outcomes = ("placed", "confirmed", "rejected", "cancelled")
    moved = {o: _orders(after, o) - _orders(before, o) for o in outcomes}
    assert moved == {"placed": 4, "confirmed": 1, "rejected": 1, "cancelled": 2}
    # The saga ends once per order: cancelling the confirmed one is not a second end.
    ended = {o: _saga(after, o) - _saga(before, o) for o in ("confirmed", "rejected", "cancelled")}
    assert ended == {"confirmed": 1, "rejected": 1, "cancelled": 1}


def test_a_rolled_back_transition_is_not_counted(client, customer, make_product, app):
    db = orders_of(app).db
    _, headers = customer()
    oid = uuid.UUID(_place(client, headers, make_product()["id"]))
    before = _scrape(client)
    event = StockReserved(order_id=oid)
    with pytest.raises(RuntimeError), db.session(write=True) as session:
        on_stock_reserved(session, wrap(event, "/flotilla/test"), event)
        raise RuntimeError("the consumer's transaction fails after the handler")
    assert _orders(_scrape(client), "confirmed") == _orders(before, "confirmed")
