"""What tracing costs on catalog's item read (``GET /products/{id}``), CPU per request:

- ``not installed``: the app built with the tracing hooks replaced by no-ops (``bench._untraced``);
- ``off``: the shipped app with ``OTEL_EXPORTER_OTLP_ENDPOINT`` unset (the default);
- ``on``: spans exported to an OTLP/HTTP receiver on loopback (``flotilla.testing.otlp``).

Three catalog servers (BENCH_TRACING_WORKERS workers each, default 2; one seeded SQLite
database) run at once; wrk -t2 -c16
drives each in turn for BENCH_SECONDS (default 5), for BENCH_ROUNDS interleaved rounds
(default 3), and each figure is the median round: CPU per request is utime + stime of the
server's process tree over the run divided by the requests served. Goal of the performance
issue: ``off`` within 2 % of ``not installed``; ``on`` reported.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import _cpu, _fixed_rate
from bench._load import wrk
from bench.edge_gateway import _seed
from flotilla.testing.otlp import OtlpReceiver
from flotilla.testing.processes import GunicornProcess

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_TRACING_WORKERS", "2"))
#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))
GOAL_OFF = 1.02


def main() -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_LEVEL": "WARNING"}
    _seed(env)
    receiver = OtlpReceiver().start()
    quiet = {k: "" for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")}
    variants = {
        "not installed": ("bench._untraced:create_app()", {**env, **quiet}),
        "off": ("catalog:create_app()", {**env, **quiet}),
        "on": ("catalog:create_app()", {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url + "/v1/traces",
                                        "OTEL_SERVICE_NAME": "catalog"}),
    }
    root = Path(__file__).resolve().parent.parent
    servers: dict[str, GunicornProcess] = {}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    rps: dict[str, list[float]] = {name: [] for name in variants}
    try:
        servers = {name: GunicornProcess(app, env={**extra, "PYTHONPATH": str(root)}, workers=WORKERS,
                                         cwd=root) for name, (app, extra) in variants.items()}
        with ThreadPoolExecutor(len(servers)) as pool:  # start together: each waits for its own
            list(pool.map(lambda server: server.start(timeout=STARTUP), servers.values()))
        with urllib.request.urlopen(servers["off"].base_url + "/products?limit=1") as resp:  # noqa: S310
            product = json.load(resp)["items"][0]["id"]
        for server in servers.values():  # warm up: imports, connections, caches
            _fixed_rate.run(f"{server.base_url}/products/{product}", rate=100, seconds=0.5, senders=4)
        for _ in range(ROUNDS):
            for name, server in servers.items():
                pids = _cpu.tree(server.pid)
                before = _cpu.seconds(pids)
                result = wrk(f"{server.base_url}/products/{product}", seconds=SECONDS)
                cpu[name].append(1000 * (_cpu.seconds(pids) - before) / max(result.requests, 1))
                rps[name].append(result.requests_per_second)
        spans = len(receiver.spans)
    finally:
        for server in servers.values():
            server.stop()
        receiver.stop()
    per = {name: round(statistics.median(values), 4) for name, values in cpu.items()}
    base = per["not installed"]
    ratios = {"off / not installed": round(per["off"] / base, 4),
              "on / not installed": round(per["on"] / base, 4)}
    print(f"catalog GET /products/{{id}}, wrk -t2 -c16, {SECONDS}s x {ROUNDS} interleaved rounds (median)")
    print(f"{'tracing':<14} {'CPU ms/req':>10} {'req/s':>7} {'rounds (ms/req)':>30}")
    for name in variants:
        rounds = ", ".join(f"{v:.3f}" for v in cpu[name])
        print(f"{name:<14} {per[name]:>10.3f} {statistics.median(rps[name]):>7.0f} {rounds:>30}")
    print(f"  off / not installed {ratios['off / not installed']:.3f} (goal <= {GOAL_OFF}), "
          f"on / not installed {ratios['on / not installed']:.3f}; {spans} spans received")
    return {"cpu_ms_per_req": per, "ratios": ratios, "spans_received": spans,
            "req_s": {name: round(statistics.median(v)) for name, v in rps.items()},
            "rounds_cpu_ms_per_req": {name: [round(v, 4) for v in values] for name, values in cpu.items()}}
