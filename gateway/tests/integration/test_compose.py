"""GET /api/v1/orders/{id}?expand=products against a fake orders upstream (orders' API per the design)."""

from __future__ import annotations

import uuid

ORDER = str(uuid.uuid4())
PRODUCT_IDS = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]  # what the fake catalog knows


def test_each_line_gets_its_current_product(gw, upstreams, minter):
    auth = minter.bearer()
    response = gw.get(f"/api/v1/orders/{ORDER}?expand=products", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert body["id"] == ORDER and body["user"] == auth["Authorization"]
    by_id = {item["product_id"]: item["product"] for item in body["lines"]}
    assert by_id[PRODUCT_IDS[1]]["name"] == "Product 2"
    assert by_id[str(uuid.UUID(int=99))] is None  # deleted since: no product, no failure
    assert body["expanded"] == "partial"
    fetched = [p for _, p, _ in upstreams["catalog"].seen if p.startswith("/products/")]
    assert sorted(fetched) == sorted(f"/products/{pid}?" for pid in [*PRODUCT_IDS, str(uuid.UUID(int=99))])


def test_catalog_down_degrades_to_the_plain_order(make_gateway):
    gw = make_gateway(urls={"catalog": ["http://127.0.0.1:9"]})
    response = gw.get(f"/api/v1/orders/{ORDER}?expand=products")
    assert response.status_code == 200
    assert response.json["expanded"] == "partial"
    assert all(item["product"] is None for item in response.json["lines"])


def test_an_orders_error_passes_through(gw):
    missing = str(uuid.UUID(int=404)).replace("0194", "0404")
    response = gw.get(f"/api/v1/orders/{missing[:-3]}404?expand=products")
    assert response.status_code == 404


def test_without_expand_the_order_is_forwarded_as_is(gw):
    response = gw.get(f"/api/v1/orders/{ORDER}")
    assert response.status_code == 200 and "expanded" not in response.json
    assert "product" not in response.json["lines"][0]


def test_an_unknown_expand_is_refused_and_nothing_is_called(gw, upstreams, minter):
    before = {name: len(up.seen) for name, up in upstreams.items()}
    for query in ("expand=AAA", "expand=products&expand=users", "expand="):
        response = gw.get(f"/api/v1/orders/{ORDER}?{query}", headers=minter.bearer())
        assert response.status_code == 422, query
        assert response.content_type == "application/problem+json"
        assert response.json["errors"][0]["field"] == "query.expand"
    assert {name: len(up.seen) for name, up in upstreams.items()} == before
