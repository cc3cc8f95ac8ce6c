"""Gateway fixtures: scripted upstreams on loopback and a gateway app in front of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Response, jsonify, request
from flask.testing import FlaskClient

from flotilla.discovery.static import StaticDiscovery
from flotilla.testing.tokens import TokenMinter
from flotilla.testing.upstream import FakeUpstream
from gateway import create_app
from gateway.config import GatewaySettings

PRODUCT_IDS = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]


def _openapi(prefix: str, schema: str) -> dict:
    return {"openapi": "3.1.0", "info": {"title": prefix, "version": "1"},
            "tags": [{"name": prefix.strip("/")}, {"name": "internal"}],
            "paths": {prefix: {"get": {"tags": [prefix.strip("/")], "responses": {"200": {
                "description": "ok", "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}}},
                "/health/ready": {"get": {"responses": {"200": {"description": "ok"}}}}},
            "components": {"schemas": {schema: {"type": "object", "title": prefix},
                                       "Problem": {"type": "object", "title": f"{prefix} problem"}}}}


def catalog_app(up: FakeUpstream) -> None:
    @up.app.get("/products")
    def products() -> Response:
        return jsonify(items=[], next_cursor=None, served_by=up.name)

    @up.app.get("/products/<pid>")
    def product(pid: str) -> Response:
        if pid not in PRODUCT_IDS:
            return Response('{"title": "Not Found"}', 404, mimetype="application/problem+json")
        return jsonify(id=pid, name=f"Product {pid[-1]}", price_cents=100 * int(pid[-1]), currency="EUR")

    @up.app.post("/products")
    def create() -> Response:
        response = jsonify(id=PRODUCT_IDS[0])
        response.status_code = 201
        response.headers["Location"] = f"/products/{PRODUCT_IDS[0]}"
        return response

    @up.app.get("/openapi.json")
    def doc() -> Response:
        return jsonify(_openapi("/products", "ProductPage"))


def orders_app(up: FakeUpstream) -> None:
    """Orders' API as the design notes give it: GET /orders/{id} with items carrying product_id."""

    @up.app.get("/orders/<oid>")
    def order(oid: str) -> Response:
        if oid.endswith("404"):
            return Response('{"title": "Not Found", "status": 404}', 404, mimetype="application/problem+json")
        items = [{"product_id": pid, "quantity": n + 1, "price_cents": 100}
                 for n, pid in enumerate(PRODUCT_IDS)]
        items.append({"product_id": str(uuid.UUID(int=99)), "quantity": 1, "price_cents": 5})
        # ``lines`` as orders' OrderOut names them
        return jsonify(id=oid, status="confirmed", lines=items, user=request.headers.get("Authorization"))

    @up.app.get("/openapi.json")
    def doc() -> Response:
        return jsonify(_openapi("/orders", "Order"))


def users_app(up: FakeUpstream) -> None:
    @up.app.post("/auth/login")
    def login() -> Response:
        return jsonify(access_token="t", token_type="Bearer")

    @up.app.post("/auth/register")
    def register() -> Response:
        return jsonify(id="u"), 201

    @up.app.get("/users/me")
    def me() -> Response:
        return jsonify(authorization=request.headers.get("Authorization"))

    @up.app.get("/openapi.json")
    def doc() -> Response:
        return jsonify(_openapi("/users/me", "User"))


@pytest.fixture
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    servers = {"catalog": FakeUpstream("catalog"), "orders": FakeUpstream("orders"),
               "users": FakeUpstream("users")}
    catalog_app(servers["catalog"])
    orders_app(servers["orders"])
    users_app(servers["users"])
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def make_gateway(upstreams, minter) -> Callable[..., FlaskClient]:
    """A gateway test client; keyword arguments are GatewaySettings fields, ``urls`` overrides upstreams."""

    def make(urls: dict[str, list[str]] | None = None, **fields: object) -> FlaskClient:
        found = {name: [up.url] for name, up in upstreams.items()}
        found.update(urls or {})
        settings = GatewaySettings(**{"log_format": "console", **fields})
        app = create_app(settings, StaticDiscovery(found), key_source=minter.key_source())
        app.config["TESTING"] = True
        return app.test_client()

    return make


@pytest.fixture
def gw(make_gateway) -> FlaskClient:
    return make_gateway()
