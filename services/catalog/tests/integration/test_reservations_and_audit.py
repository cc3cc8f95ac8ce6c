"""Reservations all-or-nothing, idempotent release, the ledger and the audit (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid

import pydantic
import pytest
from sqlalchemy import select, text

from catalog.bootstrap import catalog_of
from catalog.handlers import OrderCancelled, OrderPlaced, on_order_cancelled, on_order_placed
from catalog.repository import outbox
from flotilla.events import Envelope
from flotilla.events.envelope import wrap


def _deliver(app, event) -> list[str]:
    """Run a handler in its own transaction, as the consumer does; the event types it emitted."""
    db = catalog_of(app).db
    handler = on_order_placed if isinstance(event, OrderPlaced) else on_order_cancelled
    envelope: Envelope = wrap(event, "/flotilla/orders")
    with db.session(write=True) as session:
        before = session.execute(select(outbox.c.id)).all()
        handler(session, envelope, event)
        rows = session.execute(select(outbox.c.event_type).order_by(outbox.c.id)).scalars().all()
    return list(rows[len(before):])


def _placed(order_id, *lines):
    return OrderPlaced(order_id=order_id, lines=[{"product_id": p, "quantity": q} for p, q in lines])


def _stock(client, pid):
    return client.get(f"/products/{pid}").json["stock"]


def _audit(client):
    response = client.get("/stock/audit")
    assert response.status_code == 200, response.json
    return response.json


def test_reserve_all_or_nothing_then_release_once(app, client, make_product):
    a, b = make_product(stock=5)["id"], make_product(stock=1)["id"]
    order = uuid.uuid4()
    assert _deliver(app, _placed(order, (a, 2), (b, 2))) == ["stock.rejected.v1"]
    assert (_stock(client, a), _stock(client, b)) == (5, 1)  # nothing taken
    ok = uuid.uuid4()
    assert _deliver(app, _placed(ok, (a, 2), (b, 1))) == ["stock.reserved.v1"]
    assert _deliver(app, _placed(ok, (a, 2), (b, 1))) == []  # a duplicate reserves nothing
    assert (_stock(client, a), _stock(client, b)) == (3, 0)
    assert _audit(client)["ok"]
    assert _deliver(app, OrderCancelled(order_id=ok)) == ["stock.released.v1"]
    assert _deliver(app, OrderCancelled(order_id=ok)) == []  # released once
    assert (_stock(client, a), _stock(client, b)) == (5, 1)
    assert _audit(client) == {"ok": True, "products": 2, "discrepancies": []}


def test_a_cancellation_before_the_order_voids_it(app, client, make_product):
    pid = make_product(stock=3)["id"]
    order = uuid.uuid4()
    assert _deliver(app, OrderCancelled(order_id=order)) == []
    assert _deliver(app, _placed(order, (pid, 1))) == []
    assert _stock(client, pid) == 3


def test_unknown_and_withdrawn_products_are_refused_with_a_reason(app, client, make_product):
    pid = make_product(stock=3)["id"]
    client.delete(f"/products/{pid}")
    db = catalog_of(app).db
    order = uuid.uuid4()
    _deliver(app, _placed(order, (pid, 1), (str(uuid.uuid4()), 1)))
    with db.session() as session:
        stmt = select(outbox.c.envelope).where(outbox.c.aggregate_id == str(order))
        row = session.execute(stmt).scalar_one()
    reasons = [li["reason"] for li in Envelope.model_validate_json(row).data["lines"]]
    assert reasons == ["unknown or withdrawn product"] * 2


def test_the_audit_counts_adjustments_and_catches_a_stock_change_outside_the_ledger(app, client,
                                                                                      make_product):
    pid = make_product(stock=4)["id"]
    client.post(f"/products/{pid}/stock", json={"delta": 6})
    client.post(f"/products/{pid}/stock", json={"quantity": 7})
    _deliver(app, _placed(uuid.uuid4(), (pid, 2)))
    assert _audit(client)["ok"]
    with catalog_of(app).db.session(write=True) as session:  # a change that skips the ledger
        session.execute(text("UPDATE products SET stock = stock - 1"))
    audit = _audit(client)
    assert not audit["ok"]
    assert audit["discrepancies"][0] | {"ok": None} == {
        "product_id": pid, "on_hand": 4, "reserved": 2, "initial_and_adjustments": 7, "ledger_total": 5,
        "ok": None}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit"])
    assert result.exit_code == 1 and "1 discrepancies" in result.output


def test_the_audit_is_for_admins(anonymous):
    assert anonymous.get("/stock/audit").status_code == 401


def test_malformed_orders_are_unreadable_not_applied():
    pid = str(uuid.uuid4())
    for lines in ([], [{"product_id": pid, "quantity": 0}],
                  [{"product_id": pid, "quantity": 1}, {"product_id": pid, "quantity": 2}]):
        with pytest.raises(pydantic.ValidationError):
            OrderPlaced.model_validate({"order_id": str(uuid.uuid4()), "lines": lines})
