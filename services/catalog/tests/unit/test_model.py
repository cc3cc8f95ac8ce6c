"""The product rules, without a database or a web framework."""

from __future__ import annotations

import uuid

import pytest

from catalog.model import InsufficientStock, Product, VersionMismatch
from flotilla.pagination import decode_cursor, encode_cursor


def product(**fields: object) -> Product:
    return Product(**{"name": "Mug", "price_cents": 900, "currency": "EUR", "stock": 3, **fields})


def test_stock_can_reach_zero_but_not_below():
    p = product(stock=3)
    p.adjust_stock(-3)
    assert p.stock == 0
    with pytest.raises(InsufficientStock):
        p.adjust_stock(-1)
    assert p.stock == 0


def test_set_stock_is_an_adjustment_to_the_new_level():
    p = product(stock=3)
    p.set_stock(10)
    assert p.stock == 10


def test_etag_follows_the_version():
    assert product(version=4).etag == '"v4"'


@pytest.mark.parametrize("if_match", [None, frozenset({"*"}), frozenset({'"v1"', '"v2"'})])
def test_precondition_passes(if_match):
    product(version=2).check_precondition(if_match)


def test_precondition_fails_on_another_version():
    with pytest.raises(VersionMismatch):
        product(version=3).check_precondition(frozenset({'"v2"'}))


def test_change_touches_updated_at():
    p = product()
    before = p.updated_at
    p.change(name="Cup")
    assert p.name == "Cup" and p.updated_at >= before


def test_cursor_round_trips():
    p = product(id=uuid.uuid4())
    assert decode_cursor(encode_cursor(p.created_at, p.id)) == (p.created_at, p.id)


@pytest.mark.parametrize("junk", ["", "abc", "W10", "WyJ4IiwgInkiXQ"])
def test_foreign_cursors_are_refused(junk):
    with pytest.raises(ValueError):
        decode_cursor(junk)
