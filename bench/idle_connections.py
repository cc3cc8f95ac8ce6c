"""Idle and slow-header connections against one gunicorn process: can normal clients still get
an answer within 1 s? ``python -m bench.idle_connections [N] [idle|slow]`` (loopback only,
bounded: N sockets for about 8 s, 20 probe requests)."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time

import requests

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess


def hold(port: int, count: int, mode: str, stop: threading.Event) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)
    if mode == "slow":
        def drip() -> None:
            header = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 60
            for byte in header:
                if stop.is_set():
                    return
                for s in socks:
                    try:
                        s.send(bytes([byte]))
                    except OSError:
                        pass
                stop.wait(1.0)
        threading.Thread(target=drip, daemon=True).start()
    return socks


def probe(base_url: str, n: int = 20) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        try:
            requests.get(base_url + "/health/live", timeout=10, headers={"Connection": "close"})
            times.append(time.perf_counter() - started)
        except requests.RequestException:
            times.append(10.0)
        time.sleep(0.2)
    return times


def measure(count: int, mode: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    dead = f"http://127.0.0.1:{free_port()}"
    server = GunicornProcess("gateway:create_app()", workers=2, env={
        "CATALOG_URL": dead, "USERS_URL": dead, "ORDERS_URL": dead, "LOG_LEVEL": "WARNING",
        **(env or {})}).start()
    stop = threading.Event()
    try:
        socks = hold(server.port, count, mode, stop)
        time.sleep(0.5)
        times = probe(server.base_url)
        stop.set()
        for s in socks:
            s.close()
        return statistics.median(times), max(times)
    finally:
        server.stop()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    mode = sys.argv[2] if len(sys.argv) > 2 else "idle"
    p50, worst = measure(n, mode, {k: v for k, v in os.environ.items() if k.startswith("GUNICORN_")})
    print(f"{n} {mode} connections, {os.environ.get('GUNICORN_WORKER_CLASS', 'gthread')}: "
          f"normal client p50 {p50 * 1000:.0f} ms, worst {worst * 1000:.0f} ms")
