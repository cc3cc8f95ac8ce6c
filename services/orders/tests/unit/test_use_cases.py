"""Place, list, get and cancel against the in-memory unit of work: the rules, no database."""

from __future__ import annotations

import uuid

import pytest

from flotilla.auth import Caller
from orders import service
from orders.catalog_client import ProductInfo
from orders.model import IdempotencyKeyReused, InvalidTransition, MixedCurrencies, OrderNotFound

from .fakes import FakeCatalog, FakeUnitOfWork

PEN = ProductInfo(uuid.uuid4(), "Pen", 150, "EUR")
INK = ProductInfo(uuid.uuid4(), "Ink", 400, "EUR")
DOLLAR = ProductInfo(uuid.uuid4(), "Cap", 100, "USD")
ALICE, BOB = Caller(uuid.uuid4()), Caller(uuid.uuid4())
ADMIN = Caller(uuid.uuid4(), roles=frozenset({"admin"}))


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog(PEN, INK, DOLLAR)


def _place(uow, catalog, key="k1", items=((PEN, 2), (INK, 1)), caller=ALICE, token=None):
    return service.place_order(uow, catalog, caller.user_id, key,
                               [service.Item(p.id, q) for p, q in items], token=token)


def test_placing_prices_from_catalog_stores_pending_and_announces_it(uow, catalog):
    placed = _place(uow, catalog, token="Bearer abc")
    assert placed.created and placed.order.status == "pending"
    assert placed.order.total_cents == 2 * 150 + 400
    assert [li.name for li in placed.order.lines] == ["Pen", "Ink"]
    assert uow.outbox.types() == ["OrderPlaced"] and uow.commits >= 1
    assert catalog.calls == [([PEN.id, INK.id], "Bearer abc")]  # the caller's token, passed on


def test_the_same_key_and_body_replay_the_first_order(uow, catalog):
    first = _place(uow, catalog)
    again = _place(uow, catalog)
    assert not again.created and again.order.id == first.order.id
    assert len(uow.orders.rows) == 1 and uow.outbox.types() == ["OrderPlaced"]
    assert len(catalog.calls) == 1  # a replay does not ask catalog again


def test_the_same_key_with_another_body_is_refused(uow, catalog):
    _place(uow, catalog)
    with pytest.raises(IdempotencyKeyReused):
        _place(uow, catalog, items=((PEN, 3),))


def test_another_user_may_use_the_same_key(uow, catalog):
    _place(uow, catalog)
    assert _place(uow, catalog, caller=BOB).created
    assert len(uow.orders.rows) == 2


def test_unknown_products_are_named_and_nothing_is_stored(uow, catalog):
    ghost = ProductInfo(uuid.uuid4(), "Ghost", 1, "EUR")
    with pytest.raises(service.UnknownProducts) as caught:
        _place(uow, catalog, items=((PEN, 1), (ghost, 1)))
    assert caught.value.product_ids == [ghost.id]
    assert uow.orders.rows == {} and uow.outbox.events == []


def test_mixed_currencies_store_nothing(uow, catalog):
    with pytest.raises(MixedCurrencies):
        _place(uow, catalog, items=((PEN, 1), (DOLLAR, 1)))
    assert uow.orders.rows == {}


def test_a_lost_race_on_the_key_returns_the_winner(uow, catalog):
    winner = _place(uow, catalog).order
    # The first lookup misses (the other request had not committed), the insert then collides.
    real_lookup = uow.orders.by_idempotency_key
    calls = []

    def lookup(user_id, key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(user_id, key)

    uow.orders.by_idempotency_key = lookup
    placed = _place(uow, catalog)
    assert not placed.created and placed.order.id == winner.id and uow.rollbacks == 1


def test_another_users_order_is_not_found_but_an_admin_sees_it(uow, catalog):
    order = _place(uow, catalog).order
    with pytest.raises(OrderNotFound):
        service.get_order(uow, BOB, order.id)
    assert service.get_order(uow, ADMIN, order.id) is order


def test_listing_holds_the_callers_orders_and_everyones_for_an_admin(uow, catalog):
    mine = [_place(uow, catalog, key=f"k{n}").order for n in range(3)]
    _place(uow, catalog, key="b", caller=BOB)
    page = service.list_orders(uow, ALICE, status=None, limit=2)
    assert [o.id for o in page.items] == [o.id for o in mine[:2]] and page.next_cursor is not None
    assert len(service.list_orders(uow, ADMIN, status=None, limit=10).items) == 4


def test_cancelling_announces_it_with_who_cancelled(uow, catalog):
    order = _place(uow, catalog).order
    cancelled = service.cancel_order(uow, ALICE, order.id)
    assert cancelled.status == "cancelled" and cancelled.reason == "cancelled by the customer"
    assert uow.outbox.types() == ["OrderPlaced", "OrderCancelled"]


def test_an_admin_cancelling_is_named_and_a_stranger_cannot(uow, catalog):
    order = _place(uow, catalog).order
    with pytest.raises(OrderNotFound):
        service.cancel_order(uow, BOB, order.id)
    assert order.status == "pending"
    assert service.cancel_order(uow, ADMIN, order.id).reason == "cancelled by an administrator"


def test_a_final_order_cannot_be_cancelled_and_nothing_is_announced(uow, catalog):
    order = _place(uow, catalog).order
    order.reject("no stock")
    with pytest.raises(InvalidTransition):
        service.cancel_order(uow, ALICE, order.id)
    assert uow.outbox.types() == ["OrderPlaced"] and uow.rollbacks == 1
