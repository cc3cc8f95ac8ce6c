"""Login and refresh through a real users service (gunicorn, 2 workers, SQLite in a temp dir):
latency percentiles and throughput, sequential and with 4 concurrent clients. Bounded loops.

Login is argon2id-bound (docs/decisions/0010); refresh is one write transaction + an RS256
signature (0011).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from flotilla.testing.processes import GunicornProcess

#: seconds a server may take to answer after start: a busy shared machine is slow to import
STARTUP = float(os.environ.get("BENCH_STARTUP_SECONDS", "180"))

EMAIL, PASSWORD = "bench@example.org", "bench password 1"


def _timed(call: Callable[[int], None], per_client: int, clients: int) -> tuple[list[float], float]:
    """Each of ``clients`` threads calls ``call(client)`` ``per_client`` times in a row."""
    def run(client: int) -> list[float]:
        out = []
        for _ in range(per_client):
            started = time.perf_counter()
            call(client)
            out.append(time.perf_counter() - started)
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = [x for chunk in pool.map(run, range(clients)) for x in chunk]
    return latencies, time.perf_counter() - started


def _row(name: str, clients: int, latencies: list[float], wall: float,
         figures: dict[str, Any] | None = None) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1]
    if figures is not None:
        figures[f"{name}, {clients} client(s)"] = {
            "calls": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
            "per_s": round(len(ms) / wall, 1)}
    return (f"{name:<9}{clients:>8}{len(ms):>7}{statistics.median(ms):>10.1f}{p95:>10.1f}"
            f"{len(ms) / wall:>10.1f}")


def main() -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="flotilla-bench-users-"))
    env = {"USERS_DATABASE_URL": f"sqlite:///{root / 'users.db'}", "LOG_LEVEL": "WARNING"}
    subprocess.run([str(Path(sys.executable).parent / "users"), "migrate"], check=True, capture_output=True,
                   env={**os.environ, **env})
    server = GunicornProcess("users:create_app()", env=env, workers=2).start(timeout=STARTUP)
    figures: dict[str, Any] = {}
    try:
        base = server.base_url
        session = requests.Session()
        session.post(f"{base}/auth/register", json={"email": EMAIL, "password": PASSWORD, "name": "B"},
                     timeout=10).raise_for_status()

        def login(_: int) -> None:
            requests.post(f"{base}/auth/login", json={"email": EMAIL, "password": PASSWORD},
                          timeout=10).raise_for_status()

        # One refresh-token family per client: no client spends another's token.
        tokens = [session.post(f"{base}/auth/login", json={"email": EMAIL, "password": PASSWORD},
                               timeout=10).json()["refresh_token"] for _ in range(4)]

        def refresh(client: int) -> None:
            response = requests.post(f"{base}/auth/refresh", json={"refresh_token": tokens[client]},
                                     timeout=10)
            response.raise_for_status()
            tokens[client] = response.json()["refresh_token"]

        print(f"{'call':<9}{'clients':>8}{'calls':>7}{'p50 ms':>10}{'p95 ms':>10}{'per s':>10}")
        for clients in (1, 4):
            print(_row("login", clients, *_timed(login, 40 // clients, clients), figures))
        for clients in (1, 4):
            print(_row("refresh", clients, *_timed(refresh, 100 // clients, clients), figures))
    finally:
        server.stop()
    return figures


if __name__ == "__main__":
    main()
