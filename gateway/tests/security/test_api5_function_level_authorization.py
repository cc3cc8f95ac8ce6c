"""OWASP API5:2023 Broken Function Level Authorization: a route x role matrix.

The routes come from the services' OpenAPI documents (and the url maps of every process); the
roles are anonymous, customer, admin and deleted (an erased account whose unexpired token is
kept). ``ALLOWED`` says who may call what; everything not listed is denied (deny by default):
a documented operation or a served route missing from the matrix fails the test. Each cell is
tried for real, on the service's own port and, for public routes, through the edge: allowed
means a 2xx answer, denied means 401 (no or a dead identity) or 403 (the wrong role).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Account, Stack
from .operations import OPERATIONAL, Operation, operations, request_for

pytestmark = pytest.mark.slow

A, C, M, D = "anonymous", "customer", "admin", "deleted"
ROLES = (A, C, M, D)
#: A public route is public with a dead token too on the service's port (nothing of the dead
#: identity is used); at the edge the gateway refuses a revoked token on every route (401).
ALLOWED: dict[str, set[str]] = {
    "POST /auth/register": {A, C, M, D},
    "POST /auth/login": {A, C, M, D},
    "POST /auth/refresh": {A, C, M},  # a deleted account's refresh token is dead: 401
    "POST /auth/logout": {C, M},
    "GET /auth/jwks.json": {A, C, M, D},
    "GET /auth/revocations.json": {A, C, M, D},
    "GET /users/me": {C, M},
    "DELETE /users/me": {C, M},
    "GET /users": {M},
    "GET /users/{user_id}": {C, M},  # one's own; another's is API1's matter
    "GET /products": {A, C, M, D},
    "POST /products": {M},
    "GET /products/{product_id}": {A, C, M, D},
    "PATCH /products/{product_id}": {M},
    "DELETE /products/{product_id}": {M},
    "POST /products/{product_id}/stock": {M},
    "GET /stock/audit": {M},
    "GET /orders": {C, M},
    "POST /orders": {C, M},
    "GET /orders/{order_id}": {C, M},
    "POST /orders/{order_id}/cancel": {C, M},
}
#: The gateway's own routes (not proxied): who may call them on the gateway's port, and
#: whether the edge serves them at all.
GATEWAY_OWN: dict[str, tuple[set[str], bool]] = {
    "GET /api/v1/<path:rest>": (set(), True),  # the proxy: the ALLOWED rows above
    "POST /api/v1/<path:rest>": (set(), True),
    "PUT /api/v1/<path:rest>": (set(), True),
    "PATCH /api/v1/<path:rest>": (set(), True),
    "DELETE /api/v1/<path:rest>": (set(), True),
    "GET /api/v1/orders/<uuid:order_id>": (set(), True),  # composed GET /orders/{order_id}
    "GET /api/v1/docs": ({A, C, M}, True),
    "GET /api/v1/openapi.json": ({A, C, M}, True),
    "GET /docs": ({A, C, M}, True),
    "GET /docs/<name>": ({A, C, M}, True),
    "GET /openapi.json": ({A, C, M}, True),
    "GET /health": ({A, C, M}, False),
    "GET /health/live": ({A, C, M}, False),
    "GET /health/ready": ({A, C, M}, False),
    "GET /metrics": ({A, C, M}, False),
    "GET /static/<path:filename>": ({A, C, M}, False),
    # the operators' console: its own cookie session, on the gateway's port only
    "GET /console/": (set(), False),
    "GET /console/login": (set(), False),
    "POST /console/login": (set(), False),
    "POST /console/logout": (set(), False),
    "GET /console/static/<path:filename>": (set(), False),
    "POST /console/parking/<service>/purge": (set(), False),
    "POST /console/parking/<service>/replay": (set(), False),
}


def documents(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: stack.document(name) for name in ("users", "catalog", "orders")}


def served(app: Any) -> set[str]:
    """``METHOD /rule`` for every rule of a Flask app, as its document would spell the path."""
    import re

    rules = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            rules.add(f"{method} {path}")
    return rules


def test_every_documented_operation_and_every_served_route_is_in_the_matrix(stack, apps):
    ops = operations(documents(stack))
    assert {op.key for op in ops} == set(ALLOWED), "the matrix and the documents disagree"
    for op in ops:  # the documents say the same as the matrix
        assert op.secured == (A not in ALLOWED[op.key]), op.key
        if op.secured and ALLOWED[op.key] != {C, M}:
            assert "403" in op.statuses, f"{op.key}: a role is refused but 403 is not documented"
    for name in ("users", "catalog", "orders"):
        unlisted = {r for r in served(apps[name]) - set(ALLOWED)
                    if r.split(" ", 1)[1] not in OPERATIONAL | {"/static/{filename}"}}
        assert unlisted == set(), f"{name} serves routes the matrix does not list"
    gateway_rules = {f"{m} {rule.rule}" for rule in apps["gateway"].url_map.iter_rules()
                     for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert gateway_rules - set(GATEWAY_OWN) == set(), "the gateway serves routes the matrix does not list"


class Actors:
    """For each role: an account (None for anonymous) and the ids of that account's own objects.
    Operations that end something (logout, delete the account) get a fresh session or account."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.orders: dict[str, str] = {}

    def account(self, role: str, op: Operation) -> Account | None:
        s = self.stack
        fresh = op.key in ("POST /auth/logout", "DELETE /users/me", "POST /auth/refresh")
        if role == A:
            return None
        if role == D:
            return s.deleted
        if role == M:
            return s.login(s.admin.email) if fresh else s.admin
        return s.register("matrix") if fresh else s.customer

    def ids(self, role: str, account: Account | None, op: Operation) -> dict[str, str]:
        s = self.stack
        writes = op.method != "get"
        ids = {"product_id": s.new_product() if writes and "product_id" in op.params else s.product["id"],
               "user_id": account.id if account else s.customer.id}
        if "order_id" in op.params:
            if role == D:
                ids["order_id"] = s.deleted.order
            elif account is None:
                ids["order_id"] = s.place_order(s.customer)["id"]
            else:
                ids["order_id"] = s.place_order(account)["id"]
        return ids

    def body(self, op: Operation, account: Account | None) -> Any:
        s = self.stack
        if op.key == "POST /auth/login":
            return {"email": s.customer.email, "password": "correct horse battery staple"}
        if op.key in ("POST /auth/refresh", "POST /auth/logout"):
            return {"refresh_token": (account or s.login(s.customer.email)).refresh_token}
        if op.key == "POST /orders":
            return {"items": [{"product_id": s.product["id"], "quantity": 1}]}
        return None


def _cell(stack: Stack, actors: Actors, op: Operation, role: str,
          send: Callable[..., Any]) -> tuple[int, str]:
    account = actors.account(role, op)
    if role == M and op.key == "DELETE /users/me":
        return 204, "skipped: the admin account is shared (a customer deletes themself above)"
    headers = account.auth if account else {}
    kwargs = request_for(op, actors.ids(role, account, op), headers, actors.body(op, account))
    response = send(**kwargs)
    return response.status_code, response.text[:200]


@pytest.mark.parametrize("where", ["service port", "edge"])
def test_the_route_role_matrix_holds(stack, where):
    actors = Actors(stack)
    wrong = []
    for op in operations(documents(stack)):
        if where == "edge" and not op.public:
            continue
        base = stack.api if where == "edge" else stack.url(op.service)

        def send(method: str, path: str, base: str = base, **kwargs: Any) -> Any:
            return stack.http.request(method, base + path, timeout=10, **kwargs)

        for role in ROLES:
            status, text = _cell(stack, actors, op, role, send)
            allowed = role in ALLOWED[op.key]
            if role == D and allowed and where == "edge":
                allowed = False  # the gateway checks every token it is given, whatever the route
            expected = "2xx" if allowed else ("403" if role in (C, M) else "401")
            ok = 200 <= status < 300 if allowed else status == int(expected)
            if not ok:
                wrong.append(f"{op.key} as {role}: {status}, expected {expected}: {text}")
    assert wrong == [], "\n".join(wrong)


def test_the_gateways_own_routes_at_the_edge(stack):
    """Operational and console routes are not on the edge; the documents are, for everyone."""
    for key, (_, at_edge) in GATEWAY_OWN.items():
        method, rule = key.split(" ", 1)
        if "<path:rest>" in rule or "<uuid:" in rule:
            continue
        path = (rule.replace("<path:filename>", "x.css").replace("<service>", "orders")
                .replace("<name>", "docs-init.js"))
        response = stack.http.request(method, stack.edge.base_url + path, timeout=10)
        if at_edge:
            assert response.status_code == 200, key
        else:
            assert response.status_code == 404, f"{key} is reachable at the edge"
            assert response.headers["Content-Type"].startswith("application/problem+json")
