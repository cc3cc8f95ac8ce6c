"""What the edge and the gateway cost on a catalog read (GET /products/{id}).

One run starts catalog (seeded SQLite, 2 workers), the gateway (2 workers x 16 threads),
nginx in front of catalog alone and nginx in front of the gateway, then measures, side
by side: saturation throughput with wrk (-c16) direct, through nginx only, through the
gateway, and through nginx + gateway; then, at a fixed rate of half the gateway's
saturation, the latency the gateway adds (p50, p99 through the gateway minus direct).
Everything shares the machine's cores with the load generator: compare the columns.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench import _fixed_rate
from bench._load import LoadResult, wrk
from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess
from gateway.nginx import EdgeConfig, NginxProcess

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))


def _nginx(upstream_port: int) -> NginxProcess:
    config = EdgeConfig(prefix=Path(tempfile.mkdtemp(prefix="bench-nginx-")), http_port=free_port(),
                        https_port=free_port(), gateway=f"127.0.0.1:{upstream_port}",
                        rate=1_000_000, burst=1_000_000)
    return NginxProcess(config).start()


def _seed(env: dict[str, str]) -> None:
    import subprocess

    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "catalog.cli", command], check=True,
                       env={**os.environ, **env}, capture_output=True)


def _saturate(url: str) -> LoadResult | None:
    """wrk at saturation; None (said on stdout) when wrk finished no request to measure."""
    for _ in range(2):
        try:
            return wrk(url, seconds=SECONDS)
        except (AttributeError, ValueError) as exc:  # wrk printed no latency figures
            print(f"  (wrk measured nothing at {url}: {exc}; once more)", flush=True)
    return None


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    catalog_env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_LEVEL": "WARNING"}
    _seed(catalog_env)
    started: list = []
    try:
        catalog = GunicornProcess("catalog:create_app()", env=catalog_env, workers=2).start(timeout=STARTUP)
        started.append(catalog)
        dead = f"http://127.0.0.1:{free_port()}"
        gateway = GunicornProcess("gateway:create_app()", workers=2, env={
            "CATALOG_URL": catalog.base_url, "USERS_URL": dead, "ORDERS_URL": dead,
            # One client address: the limiter runs, with a limit the load cannot reach.
            "GATEWAY_RATE_LIMIT": "1000000000/minute", "GATEWAY_RATE_LIMIT_STRATEGY": "fixed-window",
            "GATEWAY_TRUSTED_PROXIES": "1",
            "GUNICORN_THREADS": "16", "LOG_LEVEL": "WARNING"}).start(timeout=STARTUP)
        started.append(gateway)
        edge_catalog, edge_gateway = _nginx(catalog.port), _nginx(gateway.port)
        started += [edge_catalog, edge_gateway]
        with urllib.request.urlopen(catalog.base_url + "/products?limit=1") as resp:  # noqa: S310
            pid = json.load(resp)["items"][0]["id"]
        direct = f"{catalog.base_url}/products/{pid}"
        gw = f"{gateway.base_url}/api/v1/products/{pid}"
        targets = [("direct", direct), ("nginx only", f"{edge_catalog.base_url}/products/{pid}"),
                   ("gateway", gw), ("nginx + gateway", f"{edge_gateway.base_url}/api/v1/products/{pid}")]
        print(f"GET /products/{{id}}, catalog 2 workers, gateway 2 workers x 16 threads, nginx 1 worker; "
              f"wrk -t2 -c16 for {SECONDS}s each")
        print(f"{'path':<16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8} {'vs direct':>9}")
        saturation: dict[str, float] = {}
        figures: dict[str, Any] = {"saturation": {}}
        for label, url in targets:
            _fixed_rate.run(url, rate=50, seconds=1, senders=4)  # warm up connections and caches
            result = _saturate(url)
            if result is None:
                print(f"{label:<16} no result", flush=True)
                continue
            saturation[label] = result.requests_per_second
            figures["saturation"][label] = {
                "req_s": round(result.requests_per_second), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
                "non_2xx": result.non_2xx,
                "wrk_cpu_ms_per_req": round(1000 * result.client_cpu_s / max(result.requests, 1), 3)}
            print(f"{label:<16} {result.requests_per_second:>8.0f} {result.p50_ms:>7.2f} "
                  f"{result.p99_ms:>7.2f} {result.non_2xx:>8} "
                  f"{result.requests_per_second / saturation.get('direct', float('nan')):>8.2f}x",
                  flush=True)
        if "gateway" not in saturation or "direct" not in saturation:
            return figures
        rate = round(saturation["gateway"] / 2)
        print(f"\nfixed rate {rate} req/s (half the gateway's saturation), open loop, {SECONDS}s each")
        print(f"{'path':<16} {'achieved':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}")
        fixed = {}
        figures["fixed_rate"] = {"offered_req_s": rate}
        for label, url in (("direct", direct), ("gateway", gw)):
            client_before = _self_cpu()
            result = _fixed_rate.run(url, rate, seconds=SECONDS)
            client_cpu = _self_cpu() - client_before
            fixed[label] = result
            figures["fixed_rate"][label] = {
                "achieved_req_s": round(result.achieved_rps), "p50_ms": round(result.p50_ms, 3),
                "p99_ms": round(result.p99_ms, 3), "errors": result.errors,
                "generator_cpu_ms_per_req": round(1000 * client_cpu / max(rate * SECONDS, 1), 3)}
            print(f"{label:<16} {result.achieved_rps:>8.0f} {result.p50_ms:>7.2f} {result.p99_ms:>7.2f} "
                  f"{result.errors:>7}", flush=True)
        print(f"latency the gateway adds at {rate} req/s: "
              f"p50 {fixed['gateway'].p50_ms - fixed['direct'].p50_ms:+.2f} ms, "
              f"p99 {fixed['gateway'].p99_ms - fixed['direct'].p99_ms:+.2f} ms "
              "(differences of two runs on shared cores: noisy at the tail; repeat with BENCH_SECONDS=20)")
        figures["gateway_adds_ms"] = {"p50": round(fixed["gateway"].p50_ms - fixed["direct"].p50_ms, 3),
                                      "p99": round(fixed["gateway"].p99_ms - fixed["direct"].p99_ms, 3)}
        return figures
    finally:
        for process in reversed(started):
            process.stop()
