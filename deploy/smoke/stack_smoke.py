"""Every Flotilla image at once, as docker-compose.yml wires them, then one order end to end.

Run by ``scripts/image-smoke.sh`` (``make images``) after the images are built. No registry
is reachable here, so the infrastructure is what the test harness starts: a real PostgreSQL
(one database per service), a real RabbitMQ, and the kit's fake Consul agent (Debian has no
Consul). The eight containers (three apis, three workers, the gateway, the edge) run on the
host network, non-root, with a read-only root filesystem, ``DISCOVERY=consul``. The check:
register, log in, create a product as admin, place an order through the edge, and wait for
the saga (catalog-worker reserves, orders-worker confirms).

Usage: ``.venv/bin/python deploy/smoke/stack_smoke.py [TAG]`` (images localhost/flotilla/*:TAG).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from flotilla import services_list
from flotilla.testing import port_open, wait_for
from flotilla.testing.fake_consul import FakeConsul
from flotilla.testing.postgres import PostgresServer
from flotilla.testing.rabbitmq import RabbitMQServer

# services.toml's ports moved up by 10000, so the smoke run leaves make run's ports alone.
API_PORTS = {svc: port + 10000 for svc, port in services_list.PORTS.items()}
WORKER_PORTS = {svc: port + 10000 for svc, port in services_list.WORKER_PORTS.items()}
GATEWAY_PORT, EDGE_PORT = 18080, 18000
ADMIN = {"email": "admin@flotilla.test", "password": "change-me-admin"}


def plan(pg: PostgresServer, amqp_url: str, consul: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(container, image, role, environment) for each of the eight containers."""
    common = {"AMQP_URL": amqp_url, "DISCOVERY": "consul", "CONSUL_HTTP_ADDR": consul,
              "SERVICE_ADDRESS": "127.0.0.1", "WEB_CONCURRENCY": "1",
              "JWT_JWKS_URL": f"http://127.0.0.1:{API_PORTS['users']}/auth/jwks.json"}
    runs = []
    for svc, port in API_PORTS.items():
        db = {f"{svc.upper()}_DATABASE_URL": pg.create_database(svc).replace("+psycopg", "")}
        admin = ({"FLOTILLA_ADMIN_EMAIL": ADMIN["email"], "FLOTILLA_ADMIN_PASSWORD": ADMIN["password"],
                  "USERS_TRUSTED_PROXIES": "2"} if svc == "users" else {})
        runs.append((f"{svc}-api", svc, "api", {**common, **db, **admin, "PORT": str(port)}))
        if svc in WORKER_PORTS:
            worker = {**common, **db, "WORKER_PORT": str(WORKER_PORTS[svc])}
            runs.append((f"{svc}-worker", svc, "worker", worker))
    gateway = {**common, "PORT": str(GATEWAY_PORT), "GATEWAY_TRUSTED_PROXIES": "1"}
    runs.append(("gateway", "gateway", "api", gateway))
    runs.append(("edge", "edge", "edge", {"GATEWAY_ADDR": f"127.0.0.1:{GATEWAY_PORT}", "PORT": str(EDGE_PORT),
                                          "EDGE_HTTP_PORT": str(EDGE_PORT), "EDGE_HTTPS_PORT": "18443"}))
    return runs


def ready(port: int) -> bool:
    if not port_open(port):
        return False
    try:
        # The edge has no /health path (only the public API): ready once it proxies a document.
        path = "/openapi.json" if port == EDGE_PORT else "/health/ready"
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def one_order(api: httpx.Client) -> dict[str, Any]:
    email = f"smoke-{uuid.uuid4().hex[:8]}@flotilla.test"
    api.post("/auth/register", json={"email": email, "password": "a-long-password-1", "name": "Smoke"}
             ).raise_for_status()
    user = api.post("/auth/login", json={"email": email, "password": "a-long-password-1"}).json()
    admin = api.post("/auth/login", json=ADMIN).json()
    product = api.post("/products", json={"name": "Smoke kettle", "price_cents": 1234, "currency": "EUR",
                                          "stock": 5},
                       headers={"Authorization": f"Bearer {admin['access_token']}"})
    product.raise_for_status()
    pid = product.json()["id"]
    as_user = {"Authorization": f"Bearer {user['access_token']}"}
    placed = api.post("/orders", json={"items": [{"product_id": pid, "quantity": 2}]},
                      headers={**as_user, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 202, placed.text
    started = time.monotonic()
    order = wait_for(lambda: (o := api.get(f"/orders/{placed.json()['id']}", headers=as_user).json())
                     ["status"] != "pending" and o, timeout=30, what="the order to settle")
    order["settled_s"] = time.monotonic() - started
    order["stock_after"] = api.get(f"/products/{pid}").json()["stock"]
    return dict(order)


def main(tag: str) -> int:
    started = time.monotonic()
    pg, rmq, consul = PostgresServer().start(), RabbitMQServer().start(), FakeConsul().start()
    print(f"stack: PostgreSQL, RabbitMQ, fake Consul up in {time.monotonic() - started:.1f} s", flush=True)
    names: list[str] = []
    try:
        started = time.monotonic()
        for name, image, role, env in plan(pg, rmq.url, consul.address):
            names.append(f"flotilla-stack-{name}")
            subprocess.run(["podman", "rm", "-f", names[-1]], capture_output=True, check=False)
            args = [f"--env={k}={v}" for k, v in env.items()]
            subprocess.run(["podman", "run", "-d", "--name", names[-1], "--network", "host", "--read-only",
                            "--tmpfs", "/tmp",  # noqa: S108 (the container's own /tmp)
                            *args, f"localhost/flotilla/{image}:{tag}", role],
                           check=True, capture_output=True)
        for port in [*API_PORTS.values(), *WORKER_PORTS.values(), GATEWAY_PORT, EDGE_PORT]:
            wait_for(lambda port=port: ready(port), timeout=120, what=f"/health/ready on {port}")
        registered = sorted({s["Service"] for s in consul.services.values()})
        print(f"stack: 8 containers ready in {time.monotonic() - started:.1f} s; in Consul: {registered}")
        with httpx.Client(base_url=f"http://127.0.0.1:{EDGE_PORT}/api/v1", timeout=10) as api:
            order = one_order(api)
        print(f"stack: order {order['status']} {order['settled_s']:.2f} s after 202 through the edge; "
              f"stock 5 -> {order['stock_after']}")
        return 0 if order["status"] == "confirmed" and order["stock_after"] == 3 else 1
    except Exception:
        for name in names:
            logs = subprocess.run(["podman", "logs", "--tail", "20", name], capture_output=True, text=True,
                                  check=False)
            print(f"--- {name}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}", file=sys.stderr)
        raise
    finally:
        for name in names:
            subprocess.run(["podman", "rm", "-f", "-t", "10", name], capture_output=True, check=False)
        consul.stop()
        rmq.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "smoke"))
