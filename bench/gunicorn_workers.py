"""Which gunicorn worker class should Flotilla's services use by default?

Starts catalog (migrated, seeded, SQLite) under each candidate worker class in turn,
same worker count, and drives it with wrk: a database read (GET /products) and a
trivial endpoint (GET /health/live). Prints requests/s, p50/p99 and the ratio to
the ``sync`` class measured in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._load import wrk
from flotilla.testing.processes import GunicornProcess

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

CANDIDATES = [
    ("sync", {"GUNICORN_WORKER_CLASS": "sync"}),
    ("gthread x4", {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"}),
    ("gthread x8", {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}),
]
PATHS = ["/products?limit=20", "/health/live"]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))


def main() -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-gunicorn-"))
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_LEVEL": "WARNING"}
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "catalog.cli", command], check=True,
                       env={**os.environ, **env}, capture_output=True)
    results: dict[tuple[str, str], float] = {}
    figures: dict[str, dict[str, Any]] = {}
    print(f"catalog, 2 workers, wrk -c16 for {SECONDS}s per cell")
    print(f"{'worker class':<12} {'path':<20} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'vs sync':>8}")
    for label, extra in CANDIDATES:
        server = GunicornProcess("catalog:create_app()", env={**env, **extra}, workers=2)
        server.start(timeout=STARTUP)
        try:
            for path in PATHS:
                wrk(server.base_url + path, seconds=1)  # warm up
                result = wrk(server.base_url + path, seconds=SECONDS)
                results[(label, path)] = result.requests_per_second
                ratio = result.requests_per_second / results[("sync", path)]
                figures.setdefault(label, {})[path] = {
                    "req_s": round(result.requests_per_second), "p50_ms": result.p50_ms,
                    "p99_ms": result.p99_ms, "vs_sync": round(ratio, 3)}
                print(f"{label:<12} {path:<20} {result.requests_per_second:>8.0f} {result.p50_ms:>7.2f} "
                      f"{result.p99_ms:>7.2f} {ratio:>7.2f}x", flush=True)
        finally:
            server.stop()
    return figures
