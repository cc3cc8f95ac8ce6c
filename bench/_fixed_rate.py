"""An open-loop load generator at a fixed request rate (what wrk cannot do).

Request *i* is due at ``start + i / rate``; latency is measured from that due time,
so a slow server is charged for the queueing it causes (no coordinated omission).
Keep-alive connections, one per sender thread.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class FixedRateResult:
    offered_rps: float
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(url: str, rate: float, seconds: float = 5.0, senders: int = 16) -> FixedRateResult:
    parsed = urllib.parse.urlsplit(url)
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    next_index = 0
    start = time.perf_counter() + 0.2

    def sender() -> None:
        nonlocal next_index, errors
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=10)
        while True:
            with lock:
                index, next_index = next_index, next_index + 1
            if index >= total:
                break
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                conn.request("GET", target)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80,
                                                  timeout=10)
                ok = False
            elapsed = time.perf_counter() - due
            with lock:
                latencies.append(elapsed * 1000)
                errors += not ok
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return FixedRateResult(rate, len(latencies) / wall, _percentile(latencies, 0.5),
                           _percentile(latencies, 0.99), errors)
