"""OWASP API1:2023 Broken Object Level Authorization: every id-taking operation of every
service's document, aimed at a customer's objects by another customer and by a deleted
account, on the service's own port and through the edge: successes 0, and nothing changed."""

from __future__ import annotations

import pytest

from .conftest import Account, Stack
from .operations import Operation, operations, request_for

pytestmark = pytest.mark.slow


def _id_taking(stack: Stack) -> list[Operation]:
    ops = operations({name: stack.document(name) for name in ("users", "catalog", "orders")})
    return [op for op in ops if op.params]


def _victims_ids(stack: Stack) -> dict[str, str]:
    """The customer's own objects: a fresh order (pending, cancellable), the account, and a
    product (catalog objects have no owner: only admins may change them)."""
    return {"order_id": stack.place_order(stack.customer)["id"], "user_id": stack.customer.id,
            "product_id": stack.new_product()}


@pytest.mark.parametrize("where", ["service port", "edge"])
def test_no_id_taking_route_serves_another_users_object(stack, where):
    ops = _id_taking(stack)
    assert {op.key for op in ops} >= {"GET /orders/{order_id}", "POST /orders/{order_id}/cancel",
                                      "GET /users/{user_id}", "PATCH /products/{product_id}"}
    attackers: dict[str, Account] = {"another customer": stack.other, "a deleted account": stack.deleted}
    successes, tried = [], 0
    for op in ops:
        if not op.secured:
            continue  # public reads of public objects (a product) are everyone's by design
        if where == "edge" and not op.public:
            continue
        base = stack.api if where == "edge" else stack.url(op.service)
        for who, attacker in attackers.items():
            ids = _victims_ids(stack)
            kwargs = request_for(op, ids, attacker.auth)  # the document's example body
            method, path = kwargs.pop("method"), kwargs.pop("path")
            response = stack.http.request(method, base + path, timeout=10, **kwargs)
            tried += 1
            if response.status_code < 300 or response.status_code >= 500:
                successes.append(f"{op.key} by {who}: {response.status_code} {response.text[:150]}")
            if "order_id" in op.params:  # the owner still sees their order untouched
                own = stack.http.get(f"{stack.api}/orders/{ids['order_id']}", headers=stack.customer.auth,
                                     timeout=10)
                assert own.status_code == 200 and own.json()["status"] != "cancelled", op.key
    print(f"\nAPI1 ({where}): {tried} attempts on another user's objects, {len(successes)} successes")
    assert tried >= 10
    assert successes == []


def test_the_owner_is_served_and_lists_are_scoped(stack):
    """The positive control (the owner gets their objects), and lists only ever hold one's own."""
    order = stack.place_order(stack.customer)
    c, o = stack.customer, stack.other
    assert stack.http.get(f"{stack.api}/orders/{order['id']}", headers=c.auth, timeout=10).status_code == 200
    assert stack.http.get(f"{stack.api}/users/{c.id}", headers=c.auth, timeout=10).status_code == 200
    expanded = stack.http.get(f"{stack.api}/orders/{order['id']}?expand=products", headers=o.auth, timeout=10)
    assert expanded.status_code == 404  # the gateway's composed read asks orders as the caller
    theirs = stack.http.get(f"{stack.api}/orders?limit=100", headers=o.auth, timeout=10).json()["items"]
    assert all(item["user_id"] == o.id for item in theirs)
    assert order["id"] not in {item["id"] for item in theirs}
