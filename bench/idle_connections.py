"""Idle and slow-header connections held open directly to one server: do normal clients still
get an answer within 1 s, and at what CPU per request?

``python -m bench idle_connections`` measures every candidate side by side in one run:
gunicorn gthread (with the short first-data wait of decision 0085), gunicorn with
``flotilla.gunicorn_worker.HeadBufferingThreadWorker`` (the default), gunicorn + gevent, and
Granian (WSGI, Rust HTTP front), each serving the gateway (2 workers, upstreams unreachable)
on loopback. For each, three phases on the same server: nothing held (``none``), N sockets
connected and silent (``idle``), N sockets sending one header byte a second (``slow``). In each phase a normal
client makes PROBES sequential ``GET /health/live`` on new connections (5 s client timeout,
counted as 5 s when it expires); CPU per request is the server's whole process tree's CPU
time over the phase divided by the requests answered.

``python -m bench.idle_connections [N] [idle|slow] [candidate]`` runs one cell.
Environment: ``BENCH_IDLE_SOCKETS`` (N, default 500), ``BENCH_IDLE_PROBES`` (default 40).
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import sys
import threading
import time
from typing import Any

import requests

from bench import _cpu
from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess

SOCKETS = int(os.environ.get("BENCH_IDLE_SOCKETS", "500"))
PROBES = int(os.environ.get("BENCH_IDLE_PROBES", "40"))
CLIENT_TIMEOUT = 5.0
#: After this many client timeouts in a row the phase stops: the rest would time out too.
GIVE_UP_AFTER = 3

#: name -> environment of the server (gunicorn with ``flotilla.gunicorn_conf``, or Granian).
CANDIDATES: dict[str, dict[str, str]] = {
    "gunicorn gthread": {"GUNICORN_WORKER_CLASS": "gthread"},
    "gunicorn head-buffering gthread": {
        "GUNICORN_WORKER_CLASS": "flotilla.gunicorn_worker.HeadBufferingThreadWorker"},
    "gunicorn gevent": {"GUNICORN_WORKER_CLASS": "gevent"},
    "granian": {},
}
SLOW_HEADER = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


class Held:
    """``count`` sockets connected to ``port``; in slow mode each sends one header byte a second."""

    def __init__(self, port: int, count: int, mode: str) -> None:
        self.stop = threading.Event()
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        self.sent = 0
        if mode == "slow":
            threading.Thread(target=self._drip, daemon=True).start()

    def _drip(self) -> None:
        for byte in SLOW_HEADER:
            for s in self.socks:
                try:
                    s.send(bytes([byte]))
                except OSError:
                    pass
            self.sent += 1
            if self.stop.wait(1.0):
                return

    def close(self) -> None:
        self.stop.set()
        for s in self.socks:
            s.close()


def probe(base_url: str, n: int) -> tuple[list[float], int]:
    """``n`` sequential requests on new connections: their durations and how many were answered."""
    times: list[float] = []
    answered = failures_in_a_row = 0
    for _ in range(n):
        started = time.perf_counter()
        try:
            response = requests.get(base_url + "/health/live", timeout=CLIENT_TIMEOUT,
                                    headers={"Connection": "close"})
            times.append(time.perf_counter() - started)
            answered += response.status_code == 200
            failures_in_a_row = 0
        except requests.RequestException:
            times.append(CLIENT_TIMEOUT)
            failures_in_a_row += 1
            if failures_in_a_row >= GIVE_UP_AFTER:
                times += [CLIENT_TIMEOUT] * (n - len(times))
                break
        time.sleep(0.05)
    return times, answered


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class GranianProcess(GunicornProcess):
    """The same app and settings under Granian's WSGI interface (2 workers x 8 threads)."""

    def __init__(self, app: str, env: dict[str, str], workers: int = 2) -> None:
        super().__init__(app, env=env, workers=workers)
        self._cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory",
                     "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
                     "--blocking-threads", "8", "--http", "1", "--no-ws", "--log-level", "warning",
                     app.removesuffix("()")]


def start(candidate: str) -> GunicornProcess:
    """The gateway under ``candidate``."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"CATALOG_URL": dead, "USERS_URL": dead, "ORDERS_URL": dead, "LOG_LEVEL": "WARNING",
           **CANDIDATES[candidate]}
    kind = GranianProcess if candidate == "granian" else GunicornProcess
    return kind("gateway:create_app()", env=env, workers=2).start(timeout=120)


def phase(server: GunicornProcess, mode: str, count: int, probes: int) -> dict[str, Any]:
    held = Held(server.port, count, mode) if mode != "none" else None
    try:
        time.sleep(1.5 if mode == "slow" else 0.5)  # slow: a byte or two already sent to each
        pids = _cpu.tree(server.pid)
        cpu_before = _cpu.seconds(pids)
        times, answered = probe(server.base_url, probes)
        cpu = _cpu.seconds(pids) - cpu_before
    finally:
        if held is not None:
            held.close()
    return {"p50_ms": round(statistics.median(times) * 1000, 1),
            "p99_ms": round(percentile(times, 0.99) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "answered": answered, "probes": probes,
            "cpu_ms_per_request": round(cpu * 1000 / answered, 2) if answered else None}


def measure(candidate: str, modes: list[str], count: int = SOCKETS,
            probes: int = PROBES) -> dict[str, dict[str, Any]]:
    raise_fd_limit()
    server = start(candidate)
    try:
        out = {}
        for mode in modes:
            out[mode] = phase(server, mode, count, probes)
            time.sleep(0.5)  # the server closes the dropped sockets
        return out
    finally:
        server.stop()


def main() -> dict[str, Any]:
    print(f"gateway, 2 workers, {SOCKETS} sockets held directly to it, {PROBES} sequential "
          f"GET /health/live per phase (client timeout {CLIENT_TIMEOUT:.0f} s)")
    print(f"{'server':<32} {'held':<5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'answered':>9} {'CPU ms/req':>11}")
    figures: dict[str, Any] = {"sockets": SOCKETS, "probes": PROBES}
    for candidate in CANDIDATES:
        cells = measure(candidate, ["none", "idle", "slow"])
        figures[candidate] = cells
        for mode, cell in cells.items():
            cpu = "-" if cell["cpu_ms_per_request"] is None else f"{cell['cpu_ms_per_request']:.2f}"
            print(f"{candidate:<32} {mode:<5} {cell['p50_ms']:>8.1f} {cell['p99_ms']:>8.1f} "
                  f"{cell['max_ms']:>8.1f} {cell['answered']:>4}/{cell['probes']:<4} {cpu:>11}",
                  flush=True)
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 1:
        main()
        sys.exit(0)
    n = int(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "idle"
    name = sys.argv[3] if len(sys.argv) > 3 else "gunicorn gthread"
    print(name, mode, n, measure(name, [mode], n)[mode])
