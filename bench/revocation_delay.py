"""How long after ``DELETE /users/me`` (or ``POST /auth/logout``) does each process refuse the
token? ``python -m bench revocation_delay``.

users, catalog, orders and the gateway run as gunicorn processes (2 workers each, SQLite,
loopback), every one but users trusting users' JWKS and polling ``/auth/revocations.json``
(decision 0080). Each trial registers and logs in a fresh customer, checks that its token is
accepted everywhere, then ends it and, from the moment the ending request is answered, asks
each target in parallel every 20 ms until it answers 401; the delay is that first 401. Targets:

- users ``GET /users/me`` (its own database),
- catalog ``POST /products`` (403 for a customer until revoked),
- orders ``GET /orders``,
- the gateway ``GET /api/v1/products`` (public at catalog: only the gateway's own check can
  refuse it).

Environment: ``BENCH_REVOCATION_TRIALS`` (per kind of ending, default 30).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess

TRIALS = int(os.environ.get("BENCH_REVOCATION_TRIALS", "30"))
PASSWORD = "bench revocation password"  # noqa: S105 (a throwaway account)
GIVE_UP_SECONDS = 10.0
PRODUCT = {"sku": "BENCH-REV", "name": "Bench", "price_cents": 100, "stock": 1}


class Stack:
    def __init__(self) -> None:
        data = Path(tempfile.mkdtemp(prefix="bench-revocation-"))
        users_port = free_port()
        env = {"LOG_LEVEL": "WARNING",
               "USERS_DATABASE_URL": f"sqlite:///{data / 'users.db'}",
               "CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}",
               "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}",
               "JWT_JWKS_URL": f"http://127.0.0.1:{users_port}/auth/jwks.json",
               "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192"}
        self._migrate(env)
        self.users = GunicornProcess("users:create_app()", env=env)
        self.users.port, self.users.base_url = users_port, f"http://127.0.0.1:{users_port}"
        self.users._env["BIND"] = f"127.0.0.1:{users_port}"
        self.catalog = GunicornProcess("catalog:create_app()", env=env)
        env["CATALOG_URL"] = self.catalog.base_url
        self.orders = GunicornProcess("orders:create_app()", env=env)
        self.gateway = GunicornProcess("gateway:create_app()", env={
            **env, "USERS_URL": self.users.base_url, "ORDERS_URL": self.orders.base_url})
        self.servers = [self.users, self.catalog, self.orders, self.gateway]

    @staticmethod
    def _migrate(env: dict[str, str]) -> None:
        import catalog
        import orders
        import users
        from flotilla import migrations

        for service, key in ((users, "USERS_DATABASE_URL"), (catalog, "CATALOG_DATABASE_URL"),
                             (orders, "ORDERS_DATABASE_URL")):
            migrations.upgrade(service.MIGRATIONS, env[key])

    def start(self) -> Stack:
        with ThreadPoolExecutor(len(self.servers)) as pool:
            list(pool.map(lambda s: s.start(timeout=120), self.servers))
        return self

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.servers)) as pool:
            list(pool.map(lambda s: s.stop(), self.servers))

    def targets(self) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
        """name -> (method, url, json body)."""
        return {"users": ("GET", f"{self.users.base_url}/users/me", None),
                "catalog": ("POST", f"{self.catalog.base_url}/products", PRODUCT),
                "orders": ("GET", f"{self.orders.base_url}/orders", None),
                "gateway": ("GET", f"{self.gateway.base_url}/api/v1/products?limit=1", None)}

    def session(self) -> dict[str, str]:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.org"
        made = requests.post(f"{self.users.base_url}/auth/register", timeout=10,
                             json={"email": email, "password": PASSWORD, "name": "Bench"})
        made.raise_for_status()
        pair = requests.post(f"{self.users.base_url}/auth/login", timeout=10,
                             json={"email": email, "password": PASSWORD})
        pair.raise_for_status()
        return dict(pair.json())


def _status(http: requests.Session, target: tuple[str, str, dict[str, Any] | None], token: str) -> int:
    method, url, body = target
    return http.request(method, url, json=body, timeout=5,
                        headers={"Authorization": f"Bearer {token}"}).status_code


#: Requests that got no answer at all (connection dropped), counted in the figures.
DROPPED: list[str] = []


def _first_refusal(target: tuple[str, str, dict[str, Any] | None], token: str, since: float) -> float:
    http = requests.Session()
    try:
        while True:
            try:
                if _status(http, target, token) == 401:
                    return time.monotonic() - since
            except requests.ConnectionError as exc:  # not refused yet: note it, ask again
                DROPPED.append(f"{target[1]}: {exc}")
                http.close()
                http = requests.Session()
            if time.monotonic() - since > GIVE_UP_SECONDS:
                return GIVE_UP_SECONDS
            time.sleep(0.02)
    finally:
        http.close()


def trial(stack: Stack, ending: str, pool: ThreadPoolExecutor) -> dict[str, float]:
    pair = stack.session()
    token = pair["access_token"]
    targets = stack.targets()
    with requests.Session() as http:
        accepted = {name: _status(http, target, token) for name, target in targets.items()}
    if any(status == 401 for status in accepted.values()):
        raise RuntimeError(f"a fresh token was refused: {accepted}")
    auth = {"Authorization": f"Bearer {token}"}
    if ending == "delete":
        ended = requests.delete(f"{stack.users.base_url}/users/me", headers=auth, timeout=10)
    else:
        ended = requests.post(f"{stack.users.base_url}/auth/logout", headers=auth, timeout=10,
                              json={"refresh_token": pair["refresh_token"]})
    since = time.monotonic()
    if ended.status_code != 204:
        raise RuntimeError(f"{ending}: {ended.status_code} {ended.text}")
    futures = {name: pool.submit(_first_refusal, target, token, since) for name, target in targets.items()}
    return {name: future.result() for name, future in futures.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> dict[str, Any]:
    stack = Stack().start()
    figures: dict[str, Any] = {"trials": TRIALS, "poll_interval_s": float(
        os.environ.get("JWT_REVOCATIONS_INTERVAL", "1"))}
    print(f"users, catalog, orders, gateway (gunicorn, 2 workers each, SQLite); {TRIALS} trials "
          "per ending; seconds from the ending answered to the first 401")
    print(f"{'ending':<8} {'at':<8} {'p50 s':>7} {'p99 s':>7} {'max s':>7}")
    try:
        with ThreadPoolExecutor(4) as pool:
            for ending in ("delete", "logout"):
                delays: dict[str, list[float]] = {}
                for _ in range(TRIALS):
                    for name, delay in trial(stack, ending, pool).items():
                        delays.setdefault(name, []).append(delay)
                figures[ending] = {}
                for name, values in delays.items():
                    cell = {"p50_s": round(statistics.median(values), 3),
                            "p99_s": round(percentile(values, 0.99), 3),
                            "max_s": round(max(values), 3),
                            "not_refused_within_10_s": sum(v >= GIVE_UP_SECONDS for v in values)}
                    figures[ending][name] = cell
                    print(f"{ending:<8} {name:<8} {cell['p50_s']:>7.3f} {cell['p99_s']:>7.3f} "
                          f"{cell['max_s']:>7.3f}", flush=True)
    finally:
        stack.stop()
    figures["requests_dropped"] = len(DROPPED)
    for dropped in DROPPED[:5]:
        print(f"dropped: {dropped}")
    return figures


if __name__ == "__main__":
    main()
