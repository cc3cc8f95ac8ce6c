"""Schemathesis against each service's OpenAPI document and the gateway's merged one.

Every check, the stateful phase included, authenticated as a customer and as an admin
(real accounts, real logins), with a fixed seed.
``make test`` runs the gateway's document with a few examples per operation and no coverage
phase; ``FLOTILLA_CHAOS=1`` runs every document, every phase and many more examples.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from flotilla.testing import wait_for
from flotilla.testing.processes import GunicornProcess

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_name("schemathesis.toml")
LONG = os.environ.get("FLOTILLA_CHAOS") == "1"
#: make test: a few examples per operation, no coverage phase (its boundary cases for every
#: parameter are most of a run's time); make chaos: every phase, many examples.
EXAMPLES = 20 if LONG else 2
PHASES = "examples,coverage,fuzzing,stateful" if LONG else "examples,fuzzing,stateful"
SEED = 20261202
PASSWORD = "contract-password-1"


def _servers(platform) -> dict[str, GunicornProcess]:
    """The first server of each component (``users:create_app()``...) in the platform."""
    found: dict[str, GunicornProcess] = {}
    for part in platform.parts:
        if isinstance(part, GunicornProcess):
            found.setdefault(part._cmd[-1].split(":")[0], part)
    return found


def _login(base: str, email: str, password: str) -> str:
    response = requests.post(f"{base}/auth/login", json={"email": email, "password": password},
                             timeout=10)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


TARGETS = {"users": "/openapi.json", "catalog": "/openapi.json", "orders": "/openapi.json",
           "gateway": "/api/v1/openapi.json"}
ROLES = ("customer", "admin")


#: Operations that revoke the caller's own token (logout, erasing the account): the admin
#: runs share the platform's admin account, so they leave these to the customer runs.
REVOKING = "(logout|delete_me)"


@pytest.fixture(scope="module")
def tokens(platform) -> dict[tuple[str, str], str]:
    """A fresh customer account per run (a run may log its token out or erase its account);
    the platform's admin for the admin runs."""
    base = _servers(platform)["users"].base_url  # not through the gateway's strict limit on these
    out = {}
    for target in TARGETS:
        email = f"contract-{target}-{uuid.uuid4().hex[:8]}@example.com"
        requests.post(f"{base}/auth/register", timeout=10,
                      json={"email": email, "password": PASSWORD, "name": "Contract"}).raise_for_status()
        out[target, "customer"] = _login(base, email, PASSWORD)
        out[target, "admin"] = _login(base, *platform.admin)
    return out


def _run(document: str, base_url: str, token: str, report: Path, *extra: str
         ) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "schemathesis"), "--config-file", str(CONFIG), "run", document, "--url", base_url,
           "--checks", "all",
           "--phases", PHASES, "--seed", str(SEED),
           "--max-examples", str(EXAMPLES), "--workers", "1", "--request-timeout", "15",
           "--header", f"Authorization: Bearer {token}", "--suppress-health-check", "all",
           "--report", "ndjson", "--report-dir", str(report), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
                          cwd=report, timeout=1800, check=False)  # its .schemathesis cache too


#: make test: the merged document (every public operation) as both roles; make chaos: each
#: service's own document too (its internal operations), as both roles.
RUNS = [(t, r) for t in TARGETS for r in ROLES if LONG or t == "gateway"]


# First: the schemathesis runs below spend the login throttle of this one address.
def test_a_generated_typed_client_drives_the_journey(platform, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    edge = platform.edge.base_url
    _generate_client(f"{edge}/api/v1/openapi.json", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from flotilla_client import AuthenticatedClient, Client
    from flotilla_client.api.auth import auth_login_login_post, auth_register_register_post
    from flotilla_client.api.orders import (
        orders_cancel_order_uuid_order_id_cancel_post,
        orders_get_order_uuid_order_id_get,
        orders_place_order_post,
    )
    from flotilla_client.api.products import products_list_products_get
    from flotilla_client.models import (
        ExpandedOrder,
        ItemIn,
        LoginBody,
        OrderCreate,
        OrderOut,
        OrdersGetOrderUuidOrderIdGetExpand,
        ProductPage,
        RegisterBody,
        TokenPairOut,
        UserOut,
    )

    anonymous = Client(base_url=edge, raise_on_unexpected_status=True)
    email = f"client-{uuid.uuid4().hex[:10]}@example.com"
    registered = auth_register_register_post.sync_detailed(
        client=anonymous, body=RegisterBody(email=email, password=PASSWORD, name="Generated Client"))
    assert registered.status_code == 201 and isinstance(registered.parsed, UserOut)
    assert registered.headers["Location"] == f"/api/v1/users/{registered.parsed.id}"
    tokens = auth_login_login_post.sync(client=anonymous, body=LoginBody(email=email, password=PASSWORD))
    assert isinstance(tokens, TokenPairOut)
    client = AuthenticatedClient(base_url=edge, token=tokens.access_token, raise_on_unexpected_status=True)

    page = products_list_products_get.sync(client=anonymous, limit=20)
    assert isinstance(page, ProductPage) and page.items
    product = max(page.items, key=lambda p: p.stock)
    placed = orders_place_order_post.sync_detailed(
        client=client, idempotency_key=uuid.uuid4().hex,
        body=OrderCreate(items=[ItemIn(product_id=product.id, quantity=1)]))
    assert placed.status_code == 202 and isinstance(placed.parsed, OrderOut)
    assert placed.parsed.status == "pending" and placed.headers["Location"].startswith("/api/v1/orders/")
    order_id = placed.parsed.id

    def status() -> str:
        order = orders_get_order_uuid_order_id_get.sync(client=client, order_id=order_id)
        assert isinstance(order, ExpandedOrder)
        return str(order.status)

    wait_for(lambda: status() == "confirmed", timeout=20, what="order confirmed")
    expanded = orders_get_order_uuid_order_id_get.sync(
        client=client, order_id=order_id, expand=OrdersGetOrderUuidOrderIdGetExpand.PRODUCTS)
    assert isinstance(expanded, ExpandedOrder) and str(expanded.expanded) == "complete"
    assert expanded.lines[0].product.id == product.id
    cancelled = orders_cancel_order_uuid_order_id_cancel_post.sync(client=client, order_id=order_id)
    assert isinstance(cancelled, OrderOut) and str(cancelled.status) == "cancelled"
    # A documented error comes back typed: cancelling again is 409, a problem+json body.
    again = orders_cancel_order_uuid_order_id_cancel_post.sync_detailed(client=client, order_id=order_id)
    assert again.status_code == 409 and again.parsed.status == 409


@pytest.mark.parametrize(("target", "role"), RUNS)
def test_schemathesis_finds_nothing(platform, tokens, target: str, role: str, tmp_path: Path) -> None:
    server = _servers(platform)[target]
    extra = ("--exclude-operation-id-regex", REVOKING) if role == "admin" else ()
    result = _run(server.base_url + TARGETS[target], server.base_url, tokens[target, role], tmp_path, *extra)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]


# --- a typed client generated from the merged document -------------------------------------

def _generate_client(document_url: str, into: Path) -> None:
    """``openapi-python-client generate`` from the gateway's merged document, into ``into``."""
    document = into / "openapi.json"
    document.write_bytes(requests.get(document_url, timeout=10).content)
    config = into / "generator.yaml"
    config.write_text("project_name_override: flotilla_client\npackage_name_override: flotilla_client\n"
                      "post_hooks: []\n")
    result = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--path", str(document),
                             "--config", str(config), "--meta", "none",
                             "--output-path", str(into / "flotilla_client")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and "Unable to" not in result.stdout, result.stdout + result.stderr
