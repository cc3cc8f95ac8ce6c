"""Products over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

PROBLEM = "application/problem+json"


def test_create_then_get_returns_the_product_with_an_etag(client, make_product):
    created = make_product(name="Kettle", description="Steel", price_cents=4900)
    response = client.get(f"/products/{created['id']}")
    assert response.status_code == 200
    assert response.json["name"] == "Kettle"
    assert response.headers["ETag"] == '"v1"'


def test_if_none_match_with_the_current_etag_answers_304(client, make_product):
    pid = make_product()["id"]
    etag = client.get(f"/products/{pid}").headers["ETag"]
    assert client.get(f"/products/{pid}", headers={"If-None-Match": etag}).status_code == 304
    client.patch(f"/products/{pid}", json={"name": "Renamed"})
    assert client.get(f"/products/{pid}", headers={"If-None-Match": etag}).status_code == 200


def test_create_answers_location(client):
    response = client.post("/products", json={"name": "A", "price_cents": 1, "currency": "USD"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/products/{response.json['id']}"
    assert response.json["stock"] == 0


def test_pagination_walks_every_product_once_in_a_stable_order(client, make_product):
    made = [make_product(name=f"P{i}")["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        url = "/products?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json
        assert len(page["items"]) <= 3
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


def test_limit_defaults_to_20_and_is_capped_at_100(client, make_product):
    for i in range(21):
        make_product(name=f"P{i}")
    assert len(client.get("/products").json["items"]) == 20
    response = client.get("/products?limit=101")
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "limit"


def test_search_matches_name_or_description_case_insensitively(client, make_product):
    make_product(name="French press")
    make_product(name="Mug", description="Fits a FRENCH roast")
    make_product(name="Scale")
    names = {p["name"] for p in client.get("/products?q=french").json["items"]}
    assert names == {"French press", "Mug"}


def test_search_treats_like_wildcards_literally(client, make_product):
    make_product(name="100% arabica")
    make_product(name="1000 filters")
    names = [p["name"] for p in client.get("/products?q=100%25").json["items"]]
    assert names == ["100% arabica"]


def test_price_range_filters_inclusively(client, make_product):
    for cents in (100, 500, 900):
        make_product(name=f"P{cents}", price_cents=cents)
    items = client.get("/products?min_price=500&max_price=900").json["items"]
    assert sorted(p["price_cents"] for p in items) == [500, 900]
    empty = client.get("/products?min_price=10&max_price=5")  # an empty range: no products
    assert (empty.status_code, empty.json["items"]) == (200, [])


def test_a_forged_cursor_is_a_validation_error(client):
    response = client.get("/products?cursor=not-a-cursor")
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "cursor", "message": "invalid cursor"}]


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(client, make_product):
    pid = make_product(name="Old")["id"]
    first = client.patch(f"/products/{pid}", json={"name": "New"}, headers={"If-Match": '"v1"'})
    assert first.status_code == 200
    assert first.headers["ETag"] == '"v2"'
    stale = client.patch(f"/products/{pid}", json={"name": "Lost"}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412
    assert stale.content_type == PROBLEM
    assert client.get(f"/products/{pid}").json["name"] == "New"


def test_patch_rejects_null_and_unknown_fields(client, make_product):
    pid = make_product()["id"]
    assert client.patch(f"/products/{pid}", json={"name": None}).status_code == 422
    assert client.patch(f"/products/{pid}", json={"colour": "red"}).status_code == 422


def test_delete_hides_the_product_and_honours_if_match(client, make_product):
    pid = make_product()["id"]
    assert client.delete(f"/products/{pid}", headers={"If-Match": '"v9"'}).status_code == 412
    assert client.delete(f"/products/{pid}").status_code == 204
    assert client.get(f"/products/{pid}").status_code == 404
    assert client.delete(f"/products/{pid}").status_code == 404
    assert pid not in [p["id"] for p in client.get("/products").json["items"]]


def test_stock_delta_and_quantity(client, make_product):
    pid = make_product(stock=5)["id"]
    assert client.post(f"/products/{pid}/stock", json={"delta": 3}).json["stock"] == 8
    assert client.post(f"/products/{pid}/stock", json={"quantity": 2}).json["stock"] == 2


def test_stock_never_goes_below_zero(client, make_product):
    pid = make_product(stock=2)["id"]
    response = client.post(f"/products/{pid}/stock", json={"delta": -3})
    assert response.status_code == 409
    assert response.content_type == PROBLEM
    assert client.get(f"/products/{pid}").json["stock"] == 2


def test_stock_change_needs_exactly_one_of_delta_or_quantity(client, make_product):
    pid = make_product()["id"]
    assert client.post(f"/products/{pid}/stock", json={}).status_code == 422
    both = client.post(f"/products/{pid}/stock", json={"delta": 1, "quantity": 1})
    assert both.status_code == 422


def test_unknown_product_is_404_problem(client):
    response = client.get(f"/products/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.content_type == PROBLEM
    assert response.json["status"] == 404
