"""CPU per request of each tier, side by side in one run, against the floor of the stack.

Starts, on loopback: the floor (a bare Flask view, same gunicorn settings), catalog (seeded
SQLite, 2 workers), the gateway (2 workers x 16 threads, token checked, rate limit and
metrics on) in front of catalog, nginx in front of the gateway. For each path wrk runs at
saturation (-t2 -c16) while utime + stime of every tier's process tree is read from /proc;
CPU per request = the tier's CPU seconds / requests served. wrk's own CPU is reported too.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench import _cpu
from bench._load import wrk
from bench.edge_gateway import _nginx, _seed
from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess
from flotilla.testing.tokens import TokenMinter
from flotilla.testing.upstream import FakeUpstream

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROOT = Path(__file__).resolve().parent.parent

#: goals of the performance issue, as ratios to the floor measured in the same run
GOALS = {"catalog item / floor": 2.0, "catalog list / floor": 3.0, "gateway / floor": 1.5,
         "gateway / catalog item": 0.6}


def _measure(url: str, tiers: dict[str, list[int]], headers: dict[str, str] | None = None) -> dict[str, Any]:
    wrk(url, seconds=1, headers=headers)  # warm up connections, caches, lazy imports
    before = {name: _cpu.seconds(pids) for name, pids in tiers.items()}
    result = wrk(url, seconds=SECONDS, headers=headers)
    used = {name: _cpu.seconds(pids) - before[name] for name, pids in tiers.items()}
    served = max(result.requests, 1)
    return {"req_s": round(result.requests_per_second), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "non_2xx": result.non_2xx, "wrk_cpu_ms_per_req": round(1000 * result.client_cpu_s / served, 3),
            "cpu_ms_per_req": {name: round(1000 * s / served, 3) for name, s in used.items()}}


def main() -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-tiers-"))
    catalog_env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_LEVEL": "WARNING"}
    _seed(catalog_env)
    minter = TokenMinter()
    users = FakeUpstream("users")
    users.app.add_url_rule("/auth/jwks.json", "jwks", lambda: minter.jwks())
    started: list[Any] = [users.start()]
    try:
        floor = GunicornProcess("bench._floor:app", workers=2, cwd=ROOT,
                                env={"PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}).start(timeout=STARTUP)
        catalog = GunicornProcess("catalog:create_app()", env=catalog_env, workers=2).start(timeout=STARTUP)
        started += [floor, catalog]
        gateway = GunicornProcess("gateway:create_app()", workers=2, env={
            "CATALOG_URL": catalog.base_url, "USERS_URL": users.url, "ORDERS_URL": f"http://127.0.0.1:{free_port()}",
            "JWT_JWKS_URL": users.url + "/auth/jwks.json", "GATEWAY_RATE_LIMIT": "1000000000/minute",
            "GATEWAY_TRUSTED_PROXIES": "1", "GUNICORN_THREADS": "16",
            "LOG_LEVEL": "WARNING"}).start(timeout=STARTUP)
        started.append(gateway)
        edge = _nginx(gateway.port)
        started.append(edge)
        tiers = {"floor": _cpu.tree(floor.pid), "catalog": _cpu.tree(catalog.pid),
                 "gateway": _cpu.tree(gateway.pid), "nginx": _cpu.tree(edge._proc.pid)}
        with urllib.request.urlopen(catalog.base_url + "/products?limit=1") as resp:  # noqa: S310
            pid = json.load(resp)["items"][0]["id"]
        bearer = {"Authorization": f"Bearer {minter.mint()}"}
        runs = {
            "floor": _measure(floor.base_url + "/item", tiers),
            "catalog item": _measure(f"{catalog.base_url}/products/{pid}", tiers),
            "catalog list": _measure(f"{catalog.base_url}/products?limit=20", tiers),
            "edge+gateway item": _measure(f"{edge.base_url}/api/v1/products/{pid}", tiers),
            "edge+gateway item, token": _measure(f"{edge.base_url}/api/v1/products/{pid}", tiers, bearer),
        }
        memory = {name: round(_cpu.rss_mib(_cpu.tree(pids[0])), 1) for name, pids in tiers.items()}
    finally:
        for process in reversed(started):
            process.stop()
    floor_ms = runs["floor"]["cpu_ms_per_req"]["floor"]
    item_ms = runs["catalog item"]["cpu_ms_per_req"]["catalog"]
    gateway_ms = runs["edge+gateway item, token"]["cpu_ms_per_req"]["gateway"]
    ratios = {"catalog item / floor": item_ms / floor_ms,
              "catalog list / floor": runs["catalog list"]["cpu_ms_per_req"]["catalog"] / floor_ms,
              "gateway / floor": gateway_ms / floor_ms, "gateway / catalog item": gateway_ms / item_ms,
              "edge+gateway / direct throughput":
                  runs["edge+gateway item"]["req_s"] / runs["catalog item"]["req_s"]}
    print(f"wrk -t2 -c16, {SECONDS}s per path; CPU ms per request by tier (utime+stime from /proc)")
    print(f"{'path':<26} {'req/s':>6} {'p50':>6} {'p99':>6} {'floor':>6} {'catalog':>7} {'gateway':>7} "
          f"{'nginx':>6} {'wrk':>6}")
    for label, run in runs.items():
        cpu = run["cpu_ms_per_req"]
        print(f"{label:<26} {run['req_s']:>6} {run['p50_ms']:>6.2f} {run['p99_ms']:>6.2f} "
              f"{cpu['floor']:>6.3f} {cpu['catalog']:>7.3f} {cpu['gateway']:>7.3f} {cpu['nginx']:>6.3f} "
              f"{run['wrk_cpu_ms_per_req']:>6.3f}")
    for name, value in ratios.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else (f"goal <= {goal}: " + ("met" if value <= goal else "MISSED"))
        if name.endswith("throughput"):
            verdict = "goal >= 0.60: " + ("met" if value >= 0.60 else "MISSED")
        print(f"  {name:<34} {value:6.2f}  {verdict}")
    print(f"  resident memory after the run, MiB: {memory}")
    return {"runs": runs, "ratios": {k: round(v, 3) for k, v in ratios.items()}, "rss_mib": memory}
