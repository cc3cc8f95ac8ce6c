"""200 idle connections held open to a real gunicorn gateway do not keep normal clients waiting."""

from __future__ import annotations

import resource
import socket
import time

import pytest
import requests

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess

pytestmark = pytest.mark.slow


def test_normal_clients_answered_within_a_second_while_200_sockets_idle():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    dead = f"http://127.0.0.1:{free_port()}"
    server = GunicornProcess("gateway:create_app()", workers=2, env={
        "CATALOG_URL": dead, "USERS_URL": dead, "ORDERS_URL": dead, "LOG_LEVEL": "WARNING"}).start()
    idle = []
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(200)]
        time.sleep(0.3)
        took = []
        for _ in range(10):
            started = time.perf_counter()
            response = requests.get(server.base_url + "/health/live", timeout=5,
                                    headers={"Connection": "close"})
            took.append(time.perf_counter() - started)
            assert response.status_code == 200
        print(f"\n200 idle sockets: normal client worst {max(took) * 1000:.0f} ms")
        assert max(took) < 1.0
    finally:
        for sock in idle:
            sock.close()
        server.stop()
