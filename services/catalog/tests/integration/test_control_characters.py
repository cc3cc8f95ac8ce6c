"""Control and bidi-override characters are refused in product text (422 naming the field)."""

from __future__ import annotations

import pytest

BAD = ["nul\x00byte", "bell\x07", "c1\x9bx", "rtl\u202eevil", "iso\u2067x"]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("field", ["name", "description"])
def test_create_refuses_control_characters(client, field, bad):
    body = {"name": "Kettle", "price_cents": 1, "currency": "USD", field: bad}
    response = client.post("/products", json=body)
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert field in str(response.json["errors"])


def test_patch_refuses_a_nul_in_the_name(client, make_product):
    pid = make_product()["id"]
    response = client.patch(f"/products/{pid}", json={"name": "a\x00b"})
    assert response.status_code == 422
    assert "name" in str(response.json["errors"])


def test_search_refuses_a_nul(client):
    response = client.get("/products?q=a%00b")
    assert response.status_code == 422
    assert "q" in str(response.json["errors"])


def test_descriptions_keep_newlines_and_names_are_nfc(client):
    response = client.post("/products", json={"name": "Cafe\u0301", "description": "line 1\nline 2\tx",
                                               "price_cents": 1, "currency": "USD"})
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Caf\u00e9"
    assert response.json["description"] == "line 1\nline 2\tx"
