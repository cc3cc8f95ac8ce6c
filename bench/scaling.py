"""Scaling of catalog's item read (``GET /products/{id}``): 1 -> 2 gunicorn workers of one
instance, and 1 -> 2 instances (one worker each) behind the gateway, side by side in one run.

For each pair: the throughput ratio (wrk -t2 -c16 at saturation) and CPU per request of every
tier (utime + stime of its process trees from /proc) before and after. Beside them, what can
make the second worker useless without it being the code's fault: the load generator's own
CPU (``client_bound`` when wrk's threads were nearly always running or it used a quarter of
all the CPU spent) and the whole machine's busy share from /proc/stat (``machine_saturated``
when above 90 %: no core was left for the second worker, other work on the machine included).
Setting: BENCH_SECONDS (default 5).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import _cpu
from bench._load import wrk
from bench.edge_gateway import _seed
from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
WRK_THREADS = 2
#: goals of the performance issue
MIN_RATIO, MAX_CPU_GROWTH = 1.6, 1.15


def _measure(url: str, tiers: dict[str, int]) -> dict[str, Any]:
    wrk(url, seconds=1, threads=WRK_THREADS)  # warm up
    meter = _cpu.Meter(tiers).start()
    ticks, started = _cpu.machine_ticks(), time.monotonic()
    result = wrk(url, seconds=SECONDS, threads=WRK_THREADS)
    wall = time.monotonic() - started
    used = meter.stop()
    busy = _cpu.busy_share(ticks, _cpu.machine_ticks())
    served = max(result.requests, 1)
    spent = sum(used.values()) + result.client_cpu_s
    client_bound = (result.client_cpu_s / (wall * WRK_THREADS) >= 0.9
                    or result.client_cpu_s >= 0.25 * max(spent, 1e-9))
    return {"req_s": round(result.requests_per_second), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "non_2xx": result.non_2xx,
            "cpu_ms_per_req": {name: round(1000 * s / served, 3) for name, s in used.items()},
            "wrk_cpu_ms_per_req": round(1000 * result.client_cpu_s / served, 3),
            "machine_busy": round(busy, 3), "client_bound": client_bound,
            "machine_saturated": busy >= 0.9}


def _compare(one: dict[str, Any], two: dict[str, Any], tier: str) -> dict[str, Any]:
    ratio = two["req_s"] / max(one["req_s"], 1)
    cpu_growth = two["cpu_ms_per_req"][tier] / max(one["cpu_ms_per_req"][tier], 1e-9)
    if one["client_bound"] or two["client_bound"]:
        verdict = "not judged: the load generator was the bottleneck"
    elif ratio >= MIN_RATIO and cpu_growth <= MAX_CPU_GROWTH:
        verdict = "met"
    else:
        verdict = "missed" + (" (the machine had no idle core)" if two["machine_saturated"] else "")
    return {"throughput_ratio": round(ratio, 3), "cpu_per_req_ratio": round(cpu_growth, 3),
            "client_bound": one["client_bound"] or two["client_bound"],
            "machine_saturated": two["machine_saturated"], "verdict": verdict}


def main() -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_LEVEL": "WARNING"}
    _seed(env)
    runs: dict[str, dict[str, Any]] = {}
    for workers in (1, 2):
        catalog = GunicornProcess("catalog:create_app()", env=env, workers=workers).start(timeout=STARTUP)
        try:
            with urllib.request.urlopen(catalog.base_url + "/products?limit=1") as resp:  # noqa: S310
                pid = json.load(resp)["items"][0]["id"]
            runs[f"catalog {workers} worker(s)"] = _measure(f"{catalog.base_url}/products/{pid}",
                                                           {"catalog": catalog.pid})
        finally:
            catalog.stop()
    dead = f"http://127.0.0.1:{free_port()}"
    for instances in (1, 2):
        started: list[GunicornProcess] = []
        try:
            catalogs = [GunicornProcess("catalog:create_app()", env=env, workers=1).start(timeout=STARTUP)
                        for _ in range(instances)]
            started += catalogs
            gateway = GunicornProcess("gateway:create_app()", workers=2, env={
                "CATALOG_URL": ",".join(c.base_url for c in catalogs), "USERS_URL": dead, "ORDERS_URL": dead,
                "GATEWAY_RATE_LIMIT": "1000000000/minute", "GUNICORN_THREADS": "16",
                "LOG_LEVEL": "WARNING"}).start(timeout=STARTUP)
            started.append(gateway)
            tiers = {f"catalog {i + 1}": c.pid for i, c in enumerate(catalogs)} | {"gateway": gateway.pid}
            run = _measure(f"{gateway.base_url}/api/v1/products/{pid}", tiers)
            cpu = run["cpu_ms_per_req"]
            cpu["catalog"] = round(sum(v for k, v in cpu.items() if k.startswith("catalog ")), 3)
            runs[f"gateway + {instances} catalog instance(s)"] = run
        finally:
            for process in reversed(started):
                process.stop()
    pairs = {
        "catalog 1 -> 2 workers": _compare(runs["catalog 1 worker(s)"], runs["catalog 2 worker(s)"],
                                           "catalog"),
        "catalog 1 -> 2 instances behind the gateway": _compare(
            runs["gateway + 1 catalog instance(s)"], runs["gateway + 2 catalog instance(s)"], "catalog"),
    }
    print(f"GET /products/{{id}}, wrk -t{WRK_THREADS} -c16 for {SECONDS}s each; CPU ms per request")
    print(f"{'setup':<34} {'req/s':>6} {'catalog':>7} {'gateway':>7} {'wrk':>6} {'busy':>5} flags")
    for label, run in runs.items():
        cpu = run["cpu_ms_per_req"]
        flags = ("client-bound " if run["client_bound"] else "") + \
            ("machine saturated" if run["machine_saturated"] else "")
        print(f"{label:<34} {run['req_s']:>6} {cpu['catalog']:>7.3f} {cpu.get('gateway', 0.0):>7.3f} "
              f"{run['wrk_cpu_ms_per_req']:>6.3f} {run['machine_busy']:>5.2f} {flags}")
    for label, pair in pairs.items():
        print(f"  {label:<44} throughput x{pair['throughput_ratio']:.2f}, CPU per request "
              f"x{pair['cpu_per_req_ratio']:.2f} (goal >= {MIN_RATIO}x, CPU constant): {pair['verdict']}")
    return {"runs": runs, "pairs": pairs}
