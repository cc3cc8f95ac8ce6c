"""OWASP API1 (object-level) and API3 (property-level, mass assignment) for orders."""

from __future__ import annotations

import uuid

PROBLEM = "application/problem+json"


def _place(client, headers, body, key=None):
    return client.post("/orders", json=body,
                       headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex})


def test_fields_a_client_must_not_set_are_refused_or_ignored(client, customer, make_product):
    pid = make_product(price_cents=4900)["id"]
    user_id, headers = customer()
    other = uuid.uuid4()
    body = {"items": [{"product_id": pid, "quantity": 1, "price_cents": 1}],
            "status": "confirmed", "user_id": str(other), "total_cents": 1, "id": str(uuid.uuid4())}
    response = _place(client, headers, body)
    if response.status_code == 422:  # refused: nothing stored
        assert response.mimetype == PROBLEM
        return
    assert response.status_code == 202, response.json
    order = response.json
    assert order["status"] == "pending" and order["user_id"] == str(user_id)
    assert order["total_cents"] == 4900 and order["id"] != body["id"]
    assert [li["price_cents"] for li in order["lines"]] == [4900]


def test_another_customer_cannot_read_or_cancel_an_order(client, customer, make_product):
    pid = make_product()["id"]
    _, owner = customer()
    _, stranger = customer()
    order_id = _place(client, owner, {"items": [{"product_id": pid, "quantity": 1}]}).json["id"]
    successes = 0
    for method, path in (("get", f"/orders/{order_id}"), ("post", f"/orders/{order_id}/cancel")):
        response = getattr(client, method)(path, headers=stranger)
        assert response.status_code in (403, 404) and response.mimetype == PROBLEM
        successes += response.status_code < 400
    listed = client.get("/orders", headers=stranger).json
    assert order_id not in str(listed)
    assert successes == 0
    assert client.get(f"/orders/{order_id}", headers=owner).json["status"] == "pending"
