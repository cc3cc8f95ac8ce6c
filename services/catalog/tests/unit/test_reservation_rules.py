"""Catalog's reservation rules on an in-memory store: every line or none, each order
decided once, a release gives back exactly what was held (no database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from catalog.model import Product
from catalog.reservations import RELEASED, RESERVED, VOID, Line, release, reserve


class FakeStore:
    def __init__(self, *products: Product) -> None:
        self.products = {p.id: p for p in products}
        self.statuses: dict[uuid.UUID, tuple[str, str | None]] = {}
        self.lines: dict[uuid.UUID, list[Line]] = {}
        self.movements: list[tuple[str, uuid.UUID]] = []

    def status(self, order_id: uuid.UUID) -> str | None:
        found = self.statuses.get(order_id)
        return found[0] if found else None

    def record(self, order_id: uuid.UUID, status: str, reason: str | None = None) -> None:
        assert order_id not in self.statuses  # the table's primary key
        self.statuses[order_id] = (status, reason)

    def product(self, product_id: uuid.UUID, *, withdrawn_too: bool = False) -> Product | None:
        product = self.products.get(product_id)
        if product is not None and product.deleted_at is not None and not withdrawn_too:
            return None
        return product

    def hold(self, order_id: uuid.UUID, lines: Sequence[Line]) -> None:
        self.lines[order_id] = list(lines)

    def held(self, order_id: uuid.UUID) -> list[Line]:
        return list(self.lines.get(order_id, []))

    def released(self, order_id: uuid.UUID) -> None:
        self.statuses[order_id] = (RELEASED, None)

    @contextmanager
    def movement(self, kind: str, order_id: uuid.UUID) -> Iterator[None]:
        self.movements.append((kind, order_id))
        yield


def _product(stock: int) -> Product:
    return Product(name="P", price_cents=100, currency="EUR", stock=stock)


@pytest.fixture
def pen() -> Product:
    return _product(5)


@pytest.fixture
def ink() -> Product:
    return _product(1)


def test_every_line_is_held_when_there_is_stock(pen, ink):
    store, order = FakeStore(pen, ink), uuid.uuid4()
    decision = reserve(store, order, [Line(pen.id, 2), Line(ink.id, 1)])
    assert decision is not None and decision.reserved and decision.refusals == []
    assert (pen.stock, ink.stock) == (3, 0)
    assert store.status(order) == RESERVED and store.movements == [("reserve", order)]
    assert sorted(li.product_id for li in store.held(order)) == sorted([pen.id, ink.id])


def test_one_short_line_refuses_all_and_takes_nothing(pen, ink):
    store, order = FakeStore(pen, ink), uuid.uuid4()
    decision = reserve(store, order, [Line(pen.id, 2), Line(ink.id, 2)])
    assert decision is not None and not decision.reserved
    assert [(r.product_id, r.reason) for r in decision.refusals] == [
        (ink.id, "insufficient stock: 2 requested, 1 available")]
    assert (pen.stock, ink.stock) == (5, 1) and store.movements == []
    status, reason = store.statuses[order]
    assert status == "rejected" and str(ink.id) in (reason or "")


def test_unknown_and_withdrawn_products_are_refused(pen):
    withdrawn = _product(9)
    withdrawn.deleted_at = withdrawn.created_at
    ghost = uuid.uuid4()
    store = FakeStore(pen, withdrawn)
    decision = reserve(store, uuid.uuid4(), [Line(ghost, 1), Line(withdrawn.id, 1), Line(pen.id, 1)])
    assert decision is not None and not decision.reserved
    assert {r.product_id for r in decision.refusals} == {ghost, withdrawn.id}
    assert pen.stock == 5


def test_an_order_is_decided_once(pen):
    store, order = FakeStore(pen), uuid.uuid4()
    reserve(store, order, [Line(pen.id, 2)])
    assert reserve(store, order, [Line(pen.id, 2)]) is None  # a duplicate order.placed
    assert pen.stock == 3


def test_release_gives_back_what_was_held_once(pen):
    store, order = FakeStore(pen), uuid.uuid4()
    reserve(store, order, [Line(pen.id, 4)])
    assert [(li.product_id, li.quantity) for li in release(store, order) or []] == [(pen.id, 4)]
    assert pen.stock == 5 and store.status(order) == RELEASED
    assert release(store, order) is None and pen.stock == 5  # a duplicate order.cancelled


def test_a_withdrawn_products_units_still_come_back(pen):
    store, order = FakeStore(pen), uuid.uuid4()
    reserve(store, order, [Line(pen.id, 2)])
    pen.deleted_at = pen.created_at
    release(store, order)
    assert pen.stock == 5


def test_cancelled_before_placed_voids_the_order_so_a_late_placement_holds_nothing(pen):
    store, order = FakeStore(pen), uuid.uuid4()
    assert release(store, order) is None and store.status(order) == VOID
    assert reserve(store, order, [Line(pen.id, 1)]) is None and pen.stock == 5


def test_releasing_a_rejected_order_gives_nothing_back(pen):
    store, order = FakeStore(pen), uuid.uuid4()
    reserve(store, order, [Line(pen.id, 99)])
    assert release(store, order) is None and pen.stock == 5
