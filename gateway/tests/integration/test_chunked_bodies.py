"""A chunked body over MAX_BODY_BYTES is a 413 problem at a real gunicorn, never truncated and parsed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_gateway() -> Iterator[GunicornProcess]:
    dead = f"http://127.0.0.1:{free_port()}"
    server = GunicornProcess("gateway:create_app()", workers=1, env={
        "CATALOG_URL": dead, "USERS_URL": dead, "ORDERS_URL": dead, "LOG_LEVEL": "WARNING",
        "MAX_BODY_BYTES": "1000"}).start()
    yield server
    server.stop()


def post_chunked(port: int, body: bytes, chunk: int = 100) -> tuple[int, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for at in range(0, len(body), chunk):
                piece = body[at:at + chunk]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and stop reading before the body ends
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(rest[:_length(data)])


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 30


def login_body(padding: int) -> bytes:
    return json.dumps({"email": "a@example.org", "password": "x" * padding}).encode()


def test_a_chunked_body_within_the_limit_is_read_whole(small_gateway):
    status, body = post_chunked(small_gateway.port, login_body(500))
    assert status == 503 and body["status"] == 503  # accepted and forwarded (users is down)


@pytest.mark.parametrize("padding", [1000, 5000])
def test_a_chunked_body_over_the_limit_is_413(small_gateway, padding):
    status, body = post_chunked(small_gateway.port, login_body(padding))
    assert status == 413 and body["status"] == 413 and body["title"] == "Content Too Large"


def test_twenty_mebibytes_chunked_is_a_413_not_a_dropped_connection(small_gateway):
    status, body = post_chunked(small_gateway.port, login_body(20 * 1024 * 1024), chunk=65536)
    assert status == 413 and body["status"] == 413
