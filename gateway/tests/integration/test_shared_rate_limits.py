"""Rate limits hold exactly across gunicorn workers with Redis, as make run starts it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess
from flotilla.testing.redis import RedisServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def burst(redis_url: str | None, n: int = 30) -> list[int]:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"CATALOG_URL": dead, "USERS_URL": dead, "ORDERS_URL": dead, "LOG_LEVEL": "WARNING",
           "GATEWAY_RATE_LIMIT": "10/minute", "GATEWAY_BREAKER_FAILURES": "1000"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    server = GunicornProcess("gateway:create_app()", env=env, workers=2).start()
    try:
        def one(_: int) -> int:  # a new connection each: the kernel spreads them over both workers
            return requests.get(server.base_url + "/api/v1/products", timeout=10,
                                headers={"Connection": "close"}).status_code
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))
    finally:
        server.stop()


def test_two_workers_sharing_redis_let_exactly_the_limit_through():
    redis = RedisServer().start()
    try:
        statuses = burst(redis.url)
    finally:
        redis.stop()
    allowed = len([s for s in statuses if s != 429])
    print(f"\nburst of 30 at 10/minute, 2 gunicorn workers, Redis: {allowed} let through")
    assert allowed == 10 and statuses.count(429) == 20


def test_make_run_starts_redis_on_loopback_and_points_the_gateway_at_it():
    procfile = (ROOT / "Procfile").read_text()
    line = next(line for line in procfile.splitlines() if line.startswith("redis:"))
    assert "--bind 127.0.0.1" in line and "--dir var/redis" in line
    run = (ROOT / "scripts" / "run.sh").read_text()
    assert re.search(r"REDIS_URL=\$\{REDIS_URL:-redis://127\.0\.0\.1:", run)
