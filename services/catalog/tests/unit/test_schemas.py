"""Request validation rules for products."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalog.schemas import ProductCreate, ProductPatch, ProductQuery, StockChange


@pytest.mark.parametrize("name", ["", "x" * 201])
def test_name_length_is_1_to_200(name):
    with pytest.raises(ValidationError):
        ProductCreate(name=name, price_cents=1, currency="EUR")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "E1R"])
def test_currency_is_three_upper_case_letters(currency):
    with pytest.raises(ValidationError):
        ProductCreate(name="a", price_cents=1, currency=currency)


def test_price_is_a_non_negative_integer_not_a_string_or_bool():
    for bad in (-1, "5", 1.5, True):
        with pytest.raises(ValidationError):
            ProductCreate.model_validate({"name": "a", "price_cents": bad, "currency": "EUR"})


def test_patch_allows_any_subset_but_no_nulls():
    patch = ProductPatch.model_validate({"price_cents": 5})
    assert patch.model_dump(exclude_unset=True) == {"price_cents": 5}
    with pytest.raises(ValidationError):
        ProductPatch.model_validate({"currency": None})


def test_stock_change_quantity_is_never_negative():
    with pytest.raises(ValidationError):
        StockChange.model_validate({"quantity": -1})
    assert StockChange.model_validate({"delta": -1}).delta == -1


def test_query_strings_are_coerced_and_bounded():
    q = ProductQuery.model_validate({"limit": "5", "min_price": "10"})
    assert (q.limit, q.min_price) == (5, 10)
    with pytest.raises(ValidationError):
        ProductQuery.model_validate({"limit": "0"})
    with pytest.raises(ValidationError):
        ProductQuery.model_validate({"sort": "name"})


def test_query_model_schema_is_cached_and_safe_to_mutate():
    first = ProductQuery.model_json_schema()
    first["properties"].clear()
    assert "limit" in ProductQuery.model_json_schema()["properties"]
