"""The order state machine and the request fingerprint, without a database."""

from __future__ import annotations

import uuid

import pytest

from orders.model import InvalidTransition, MixedCurrencies, Order, OrderLine, OrderStatus
from orders.service import Item, request_hash


def _order(*currencies: str) -> Order:
    lines = [OrderLine(uuid.uuid4(), 2, f"P{n}", 150, c) for n, c in enumerate(currencies or ("EUR",))]
    return Order.place(uuid.uuid4(), lines, "key", "hash")


def test_placing_numbers_lines_and_totals_them():
    order = _order("EUR", "EUR")
    assert [li.line_no for li in order.lines] == [1, 2]
    assert (order.total_cents, order.currency, order.status) == (600, "EUR", "pending")


def test_an_order_takes_one_currency():
    with pytest.raises(MixedCurrencies):
        _order("EUR", "USD")


@pytest.mark.parametrize(("moves", "final"), [
    (["confirm"], "confirmed"),
    (["reject"], "rejected"),
    (["cancel"], "cancelled"),
    (["confirm", "cancel"], "cancelled"),
])
def test_allowed_moves(moves, final):
    order = _order()
    for move in moves:
        getattr(order, move)(*(["why"] if move != "confirm" else []))
    assert order.status == final


@pytest.mark.parametrize("start", ["rejected", "cancelled"])
@pytest.mark.parametrize("move", ["confirm", "reject", "cancel"])
def test_final_states_allow_nothing(start, move):
    order = _order()
    order.status = start
    assert order.is_final and not order.is_live
    with pytest.raises(InvalidTransition):
        getattr(order, move)(*(["why"] if move != "confirm" else []))


def test_a_confirmed_order_cannot_be_rejected_or_confirmed_again():
    order = _order()
    order.confirm()
    for move in (order.confirm, lambda: order.reject("late")):
        with pytest.raises(InvalidTransition):
            move()
    assert order.status == OrderStatus.CONFIRMED and order.is_live and not order.is_final


def test_the_fingerprint_tells_bodies_apart():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert request_hash([Item(a, 1), Item(b, 2)]) == request_hash([Item(a, 1), Item(b, 2)])
    assert request_hash([Item(a, 1)]) != request_hash([Item(a, 2)])
    assert request_hash([Item(a, 1), Item(b, 2)]) != request_hash([Item(b, 2), Item(a, 1)])
