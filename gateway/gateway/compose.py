"""``GET /api/v1/orders/{id}?expand=products``: the order, each line with its current product.

Products are fetched from catalog in parallel. When catalog is slow, failing or its
breakers are open, the order is still returned: lines whose product could not be
fetched get ``"product": null`` and the body says ``"expanded": "partial"``.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from concurrent.futures import Executor, wait
from typing import Any

from flask import Flask, Response, json, request

from flotilla.http import UpstreamError
from flotilla.problems import Problem
from gateway import proxy
from gateway.routes import match
from gateway.state import gateway_of

log = logging.getLogger(__name__)

MAX_PRODUCTS = 50


def _fetch_product(product_id: str, headers: dict[str, str], timeout: float) -> dict[str, Any] | None:
    try:
        found = proxy.client("catalog").get_json(f"/products/{product_id}", headers=headers,
                                                 timeout=timeout)
        return found if isinstance(found, dict) else None
    except UpstreamError as exc:
        log.info("order expansion: product %s not fetched: %s", product_id, exc)
        return None


def _as_uuid(value: object) -> str | None:
    """Only well-formed ids become catalog paths (never ``../`` from a body)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _lines(order: dict[str, Any]) -> list[Any]:
    """The order's lines: ``lines`` in orders' ``OrderOut``, ``items`` as the request names them."""
    for key in ("lines", "items"):
        found = order.get(key)
        if isinstance(found, list):
            return found
    return []


def expand_products(order: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    items = _lines(order)
    ids = list(dict.fromkeys(pid for i in items if isinstance(i, dict)
                             and (pid := _as_uuid(i.get("product_id")))))[:MAX_PRODUCTS]
    timeout = proxy.settings().route_timeouts.get("products", 3.0)
    pool: Executor = gateway_of().pool
    futures = {pid: pool.submit(contextvars.copy_context().run, _fetch_product, pid, headers, timeout)
               for pid in ids}
    wait(list(futures.values()), timeout=timeout + 0.5)
    products = {pid: f.result() if f.done() else None for pid, f in futures.items()}
    for item in items:
        if isinstance(item, dict):
            item["product"] = products.get(str(item.get("product_id")))
    complete = all(p is not None for p in products.values())
    return {**order, "expanded": "complete" if complete else "partial"}


def order_expanded(order_id: uuid.UUID) -> Response:
    expand = request.args.getlist("expand")
    if not expand:
        return proxy.forward(f"orders/{order_id}")
    if any(value != "products" for value in expand):  # the documented enum; nothing else is a no-op
        raise Problem(422, "The request did not validate; see errors.", title="Validation failed",
                      errors=[{"field": "query.expand", "message": "Input should be 'products'"}],
                      slug="validation-failed")
    path = f"/orders/{order_id}"
    route = match(path)
    assert route is not None
    headers = proxy.outgoing_headers()
    upstream = proxy.client(route.service).request(
        "GET", path, headers=headers, timeout=proxy.settings().route_timeouts.get("orders", 10.0))
    if upstream.status_code != 200:
        return proxy.to_flask(upstream)
    try:
        order = upstream.json()
    except ValueError:
        order = None
    if not isinstance(order, dict):  # an upstream's answer is not trusted to be what it says
        log.warning("order expansion: orders answered 200 with a body that is not a JSON object")
        raise Problem(502, "The orders service sent an answer the gateway could not read.",
                      title="Bad Gateway", slug="bad-upstream-answer")
    body = expand_products(order, headers)
    response = proxy.to_flask(upstream)
    response.set_data(json.dumps(body))
    response.mimetype = "application/json"
    return response


def init_app(app: Flask, limit: Any) -> None:
    app.add_url_rule("/api/v1/orders/<uuid:order_id>", "order_expanded",
                     limit(order_expanded, "order_expanded"), methods=["GET"])
