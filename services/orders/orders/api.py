"""Orders' HTTP edge: parse, call one use case, choose the status.

No ``from __future__ import annotations`` here: flask-openapi3 reads the view
signatures at import time to find the request models.
"""

import re

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from flotilla.auth import SECURITY, current_caller, require_user
from flotilla.openapi import extra
from flotilla.pagination import cursor_from_query
from flotilla.problems import Problem, ProblemModel
from orders import service
from orders.bootstrap import orders_of
from orders.schemas import OrderCreate, OrderOut, OrderPage, OrderPath, OrderQuery, PlaceHeaders

bp = APIBlueprint("orders", __name__, url_prefix="/orders",
                  abp_tags=[Tag(name="orders", description="Orders and their progress")],
                  abp_responses={401: ProblemModel, 422: ProblemModel}, abp_security=SECURITY)

ORDER = "/<uuid:order_id>"
IDEMPOTENCY_KEY = "Idempotency-Key"
_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, no spaces


def _order(order: object, status: int = 200) -> Response:
    response = jsonify(OrderOut.model_validate(order).model_dump(mode="json"))
    response.status_code = status
    return response


def _idempotency_key() -> str:
    key = request.headers.get(IDEMPOTENCY_KEY, "").strip()
    if not key:
        raise Problem(400, "Send an Idempotency-Key header (for example a fresh UUID) with every new "
                      "order; repeat it to retry safely.", title="Idempotency-Key missing")
    if not _KEY_SHAPE.match(key):
        raise Problem(422, "Idempotency-Key must be 1-200 visible ASCII characters.",
                      title="Validation failed", slug="validation-failed",
                      errors=[{"field": IDEMPOTENCY_KEY, "message": "1-200 visible ASCII characters"}])
    return key


@bp.post("", responses={202: OrderOut, 400: ProblemModel, 503: ProblemModel},
         openapi_extensions=extra(headers={202: ["Location"]}))
@require_user
def place_order(header: PlaceHeaders, body: OrderCreate) -> Response:
    """Place an order.

    202 with the order ``pending``; catalog then reserves its stock (``confirmed``) or
    refuses (``rejected``): poll the order. The ``Idempotency-Key`` header is required (400
    without it): the same key and body again return the same order; the same key with
    another body is 422. 503 with ``Retry-After`` when catalog cannot be asked (nothing is
    stored).
    """
    key = _idempotency_key()
    items = [service.Item(i.product_id, i.quantity) for i in body.items]
    try:
        orders = orders_of()
        placed = service.place_order(orders.uow, orders.catalog_client(), current_caller().user_id,
                                     key, items, token=request.headers.get("Authorization"))
    except service.UnknownProducts as exc:
        index = {i.product_id: n for n, i in enumerate(items)}
        raise Problem(422, str(exc), title="Unknown products", slug="unknown-products",
                      errors=[{"field": f"items.{index[p]}.product_id", "message": f"no product {p}"}
                              for p in exc.product_ids]) from None
    response = _order(placed.order, 202)
    response.headers["Location"] = f"{request.root_path}/orders/{placed.order.id}"
    return response


@bp.get("", responses={200: OrderPage})
@require_user
def list_orders(query: OrderQuery) -> Response:
    """List orders.

    The caller's orders, oldest first, a page at a time (pass ``next_cursor`` as ``cursor``);
    administrators see everyone's. Filter by ``status``.
    """
    after = cursor_from_query(query.cursor)
    page = service.list_orders(orders_of().uow, current_caller(), status=query.status,
                               limit=query.limit, after=after)
    body = OrderPage(items=[OrderOut.model_validate(o) for o in page.items], next_cursor=page.next_cursor)
    return jsonify(body.model_dump(mode="json"))


@bp.get(ORDER, responses={200: OrderOut, 404: ProblemModel})
@require_user
def get_order(path: OrderPath) -> Response:
    """One order.

    Another customer's order is 404, as if it did not exist.
    """
    return _order(service.get_order(orders_of().uow, current_caller(), path.order_id))


@bp.post(ORDER + "/cancel", responses={200: OrderOut, 404: ProblemModel, 409: ProblemModel})
@require_user
def cancel_order(path: OrderPath) -> Response:
    """Cancel an order.

    A pending or confirmed order becomes ``cancelled`` and its stock is released; 409 when
    it is already rejected or cancelled.
    """
    return _order(service.cancel_order(orders_of().uow, current_caller(), path.order_id))
