"""Orders of an erased customer that slip in after ``user.deleted`` are cancelled (stock released)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from orders.bootstrap import orders_of
from orders.repository import orders as orders_table

from .test_idempotency_expiry import _store


def test_an_order_that_slips_in_after_user_deleted_is_cancelled_by_the_sweeper(app):
    from flotilla.events.envelope import wrap
    from orders.events import UserDeleted
    from orders.saga import on_user_deleted
    from orders.sweeper import cancel_orders_of_erased

    db = orders_of(app).db
    user, other = uuid.uuid4(), uuid.uuid4()
    before = _store(app, user, "before")
    event = UserDeleted(user_id=user)
    with db.session(write=True) as session:
        on_user_deleted(session, wrap(event, "/flotilla/test"), event)
    after, kept = _store(app, user, "after"), _store(app, other, "other")  # token not yet revoked here
    assert cancel_orders_of_erased(db) == 1
    assert cancel_orders_of_erased(db) == 0
    with orders_of(app).db.session() as session:
        status = dict(session.execute(select(orders_table.c.id, orders_table.c.status)).all())
    assert status[uuid.UUID(before)] == "cancelled"
    assert status[uuid.UUID(after)] == "cancelled"
    assert status[uuid.UUID(kept)] == "pending"
