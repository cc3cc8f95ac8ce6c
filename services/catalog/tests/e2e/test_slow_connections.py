"""500 clients that send their request head one byte a second, directly to a gunicorn catalog,
do not keep its normal clients from being answered (docs/decisions/0155-slow-connections.md)."""

from __future__ import annotations

import resource
import socket
import threading

import pytest
import requests

from catalog import MIGRATIONS
from flotilla import migrations
from flotilla.testing.processes import GunicornProcess

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 500
HEAD = b"GET /products HTTP/1.1\r\nHost: catalog\r\nX-Slow: " + b"s" * 100


def drip(socks: list[socket.socket], stop: threading.Event) -> None:
    """One more byte of the head on every socket, each second, until stopped."""
    for index in range(1, len(HEAD)):
        if stop.wait(1.0):
            return
        for sock in socks:
            try:
                sock.send(HEAD[index:index + 1])
            except OSError:
                pass


def test_normal_clients_are_answered_while_500_clients_send_their_head_a_byte_a_second(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrations.upgrade(MIGRATIONS, url)
    env = {"CATALOG_DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    server = GunicornProcess("catalog:create_app()", env=env, workers=2).start()
    socks: list[socket.socket] = []
    stop = threading.Event()
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.send(HEAD[:1])  # readable at once: the server must take it, then wait for more
            socks.append(sock)
        dripping = threading.Thread(target=drip, args=(socks, stop), daemon=True)
        dripping.start()
        stop.wait(1.5)  # every slow client has sent a byte or two

        outcomes = []
        for _ in range(10):
            try:
                response = requests.get(f"{server.base_url}/products?limit=5", timeout=5,
                                        headers={"Connection": "close"})
                outcomes.append(response.status_code)
            except requests.RequestException as exc:  # not answered before the 5 s timeout
                outcomes.append(type(exc).__name__)
                break  # the next ones would wait as long
        assert outcomes == [200] * 10, outcomes
        assert dripping.is_alive()  # the slow clients were still sending their heads throughout
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        server.stop()
