"""Orders over HTTP, with a real catalog on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from openapi_spec_validator import validate
from sqlalchemy import func, select

from orders.bootstrap import orders_of
from orders.repository import orders as orders_table
from orders.repository import outbox

PROBLEM = "application/problem+json"


def _place(client, headers, items, key=None):
    return client.post("/orders", json={"items": items},
                       headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex})


def _count(app, table, *where):
    with orders_of(app).db.session() as session:
        return session.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_place_prices_lines_from_catalog_and_answers_202_pending(client, customer, make_product, app):
    kettle = make_product(name="Kettle", price_cents=4900)
    beans = make_product(name="Beans", price_cents=2400)
    user_id, headers = customer()
    response = _place(client, headers, [{"product_id": kettle["id"], "quantity": 1},
                                        {"product_id": beans["id"], "quantity": 3}])
    assert response.status_code == 202, response.json
    order = response.json
    assert response.headers["Location"] == f"/orders/{order['id']}"
    assert (order["status"], order["user_id"]) == ("pending", str(user_id))
    assert order["total_cents"] == 4900 + 3 * 2400
    assert [(li["name"], li["quantity"], li["price_cents"]) for li in order["lines"]] == [
        ("Kettle", 1, 4900), ("Beans", 3, 2400)]
    assert _count(app, outbox, outbox.c.aggregate_id == order["id"],
                  outbox.c.event_type == "order.placed.v1") == 1


def test_same_key_same_body_is_the_same_order_and_another_body_is_422(client, customer, make_product, app):
    pid = make_product()["id"]
    _, headers = customer()
    first = _place(client, headers, [{"product_id": pid, "quantity": 2}], key="k-1")
    again = _place(client, headers, [{"product_id": pid, "quantity": 2}], key="k-1")
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    other = _place(client, headers, [{"product_id": pid, "quantity": 3}], key="k-1")
    assert other.status_code == 422 and other.mimetype == PROBLEM
    assert "Idempotency-Key" in other.json["detail"]
    _, stranger = customer()  # keys are per user
    theirs = _place(client, stranger, [{"product_id": pid, "quantity": 2}], key="k-1")
    assert theirs.json["id"] != first.json["id"]
    assert _count(app, outbox, outbox.c.event_type == "order.placed.v1") == 2


def test_the_idempotency_key_is_required(client, customer, make_product):
    _, headers = customer()
    body = {"items": [{"product_id": make_product()["id"], "quantity": 1}]}
    missing = client.post("/orders", json=body, headers=headers)
    assert missing.status_code == 400 and missing.mimetype == PROBLEM
    bad = client.post("/orders", json=body, headers={**headers, "Idempotency-Key": "has space"})
    assert bad.status_code == 422


def test_invalid_items_are_422_with_the_field(client, customer, make_product):
    _, headers = customer()
    pid = make_product()["id"]
    cases = {
        "items": [],
        "items.0.quantity": [{"product_id": pid, "quantity": 0}],
        "items.0.product_id": [{"product_id": "nope", "quantity": 1}],
    }
    for field, items in cases.items():
        response = _place(client, headers, items)
        assert response.status_code == 422, (field, response.json)
        assert any(e["field"].startswith(field) for e in response.json["errors"]), response.json
    too_many = [{"product_id": str(uuid.uuid4()), "quantity": 1} for _ in range(51)]
    assert _place(client, headers, too_many).status_code == 422
    assert _place(client, headers, [{"product_id": pid, "quantity": 1001}]).status_code == 422
    duplicate = _place(client, headers, [{"product_id": pid, "quantity": 1}] * 2)
    assert duplicate.status_code == 422 and "more than once" in str(duplicate.json["errors"])
    extra = _place(client, headers, [{"product_id": pid, "quantity": 1, "price_cents": 1}])
    assert extra.status_code == 422


def test_unknown_and_deleted_products_are_422_naming_them(client, customer, make_product, app,
                                                          catalog_server, minter):
    _, headers = customer()
    live, gone = make_product()["id"], make_product()["id"]
    catalog_server.app.test_client().delete(f"/products/{gone}", headers=minter.bearer(roles=["admin"]))
    unknown = str(uuid.uuid4())
    response = _place(client, headers, [{"product_id": live, "quantity": 1},
                                        {"product_id": gone, "quantity": 1},
                                        {"product_id": unknown, "quantity": 1}])
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert gone in response.json["detail"] and unknown in response.json["detail"]
    assert {e["field"] for e in response.json["errors"]} == {"items.1.product_id", "items.2.product_id"}
    assert _count(app, orders_table) == 0


def test_orders_are_private_and_admins_see_all_paged(client, customer, make_product, minter):
    pid = make_product()["id"]
    (_, alice), (_, bob) = customer(), customer()
    mine = [_place(client, alice, [{"product_id": pid, "quantity": 1}]).json["id"] for _ in range(3)]
    theirs = _place(client, bob, [{"product_id": pid, "quantity": 1}]).json["id"]
    assert [o["id"] for o in client.get("/orders", headers=alice).json["items"]] == mine
    assert client.get(f"/orders/{theirs}", headers=alice).status_code == 404
    assert client.get(f"/orders/{mine[0]}", headers=alice).json["id"] == mine[0]
    admin = minter.bearer(roles=["admin"])
    seen, cursor = [], None
    while True:
        page = client.get("/orders?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=admin).json
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*mine, theirs]
    assert client.get("/orders?status=confirmed", headers=admin).json["items"] == []
    assert client.get("/orders?cursor=zzz", headers=admin).status_code == 422


def test_cancel_by_the_owner_then_409(client, customer, make_product, app):
    pid = make_product()["id"]
    (_, alice), (_, bob) = customer(), customer()
    oid = _place(client, alice, [{"product_id": pid, "quantity": 1}]).json["id"]
    assert client.post(f"/orders/{oid}/cancel", headers=bob).status_code == 404
    cancelled = client.post(f"/orders/{oid}/cancel", headers=alice)
    assert cancelled.status_code == 200
    assert (cancelled.json["status"], cancelled.json["reason"]) == ("cancelled", "cancelled by the customer")
    again = client.post(f"/orders/{oid}/cancel", headers=alice)
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert _count(app, outbox, outbox.c.event_type == "order.cancelled.v1") == 1


def test_anonymous_callers_get_401(client):
    assert client.get("/orders").status_code == 401
    response = client.post("/orders", json={"items": []}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 401 and response.mimetype == PROBLEM


def test_the_openapi_document_is_valid_and_describes_the_header(client):
    document = client.get("/openapi.json").json
    validate(document)
    post = document["paths"]["/orders"]["post"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= post["parameters"][0].items()
    assert {"202", "400", "401", "422", "503"} <= set(post["responses"])


def test_concurrent_retries_with_one_key_make_one_order(app, customer, make_product):
    pid = make_product()["id"]
    _, headers = customer()

    def attempt(_: int):
        return _place(app.test_client(), headers, [{"product_id": pid, "quantity": 1}], key="same-key")

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(attempt, range(8)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json["id"] for r in responses}) == 1
    assert _count(app, orders_table) == 1
    assert _count(app, outbox, outbox.c.event_type == "order.placed.v1") == 1


def test_products_in_two_currencies_are_422(client, customer, make_product):
    _, headers = customer()
    eur, usd = make_product(currency="EUR")["id"], make_product(currency="USD")["id"]
    response = _place(client, headers, [{"product_id": p, "quantity": 1} for p in (eur, usd)])
    assert response.status_code == 422 and "one currency" in response.json["detail"]
