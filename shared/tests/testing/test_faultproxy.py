"""The fault proxy's toxics, measured against a real loopback echo server."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from flotilla.testing import free_port, wait_for
from flotilla.testing.faultproxy import FaultProxy
from flotilla.testing.upstream import FakeUpstream


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: EchoServer = self.server  # type: ignore[assignment]
        try:
            while data := self.request.recv(65536):
                server.received += len(data)
                self.request.sendall(data)
        except ConnectionResetError:
            pass  # the reset toxic cuts this side too


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    received = 0


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo.server_address[1], seed=7) as p:
        yield p


def connect(proxy: FaultProxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=timeout)


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> tuple[bytes, float]:
    started = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got, time.monotonic() - started


def test_without_toxics_bytes_pass_unchanged(proxy: FaultProxy):
    with connect(proxy) as sock:
        got, elapsed = round_trip(sock, b"x" * 100_000)
    assert got == b"x" * 100_000 and elapsed < 0.5
    # The proxy counts a chunk after writing it: the last count may trail the client's read.
    wait_for(lambda: proxy.stats.bytes_downstream == 100_000, timeout=5, what="the byte count")
    assert proxy.stats.accepted == 1


def test_latency_delays_each_direction_it_is_set_on(proxy: FaultProxy):
    with connect(proxy) as sock:
        assert round_trip(sock)[1] < 0.1
        proxy.latency(200)
        got, elapsed = round_trip(sock)
        assert got == b"ping" and 0.19 <= elapsed < 0.6
        proxy.latency(150, direction="both")
        assert 0.29 <= round_trip(sock)[1] < 0.9
        proxy.clear()
        assert round_trip(sock)[1] < 0.1


def test_jitter_spreads_the_delay_within_its_bounds(proxy: FaultProxy):
    proxy.latency(100, jitter_ms=80)
    with connect(proxy) as sock:
        times = [round_trip(sock)[1] for _ in range(12)]
    assert all(0.015 <= t < 0.4 for t in times), times
    assert max(times) - min(times) > 0.03, times  # not a constant delay


def test_down_refuses_new_connections_cuts_open_ones_and_up_listens_again(proxy: FaultProxy):
    open_sock = connect(proxy)
    assert round_trip(open_sock)[0] == b"ping"
    proxy.down()
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    with _no_data(open_sock):
        pass
    proxy.up()
    with connect(proxy) as sock:
        assert round_trip(sock)[0] == b"ping"


class _no_data:
    """The open connection was cut: recv returns EOF or raises a reset."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def __enter__(self) -> None:
        try:
            assert self.sock.recv(10) == b""
        except ConnectionResetError:
            pass
        self.sock.close()

    def __exit__(self, *exc: object) -> None:
        return None


def test_reset_sends_rst_to_open_and_new_connections(proxy: FaultProxy):
    open_sock = connect(proxy)
    assert round_trip(open_sock)[0] == b"ping"
    proxy.reset()
    time.sleep(0.2)
    with pytest.raises(ConnectionResetError):
        open_sock.recv(10)
    open_sock.close()
    # The reset may come as early as the handshake (a loaded machine): the connect is inside.
    with pytest.raises(ConnectionResetError), connect(proxy) as sock:
        time.sleep(0.1)
        sock.sendall(b"ping")
        sock.recv(10)
    assert proxy.stats.reset >= 2
    proxy.clear()
    with connect(proxy) as sock:
        assert round_trip(sock)[0] == b"ping"


def test_reset_after_lets_data_through_until_the_delay(proxy: FaultProxy):
    proxy.reset(after_ms=300)
    with connect(proxy) as sock:
        assert round_trip(sock)[0] == b"ping"
        time.sleep(0.4)
        with pytest.raises(ConnectionResetError):
            sock.sendall(b"ping")
            sock.recv(10)


def test_timeout_zero_stalls_and_drops_data_until_cleared(proxy: FaultProxy, echo: EchoServer):
    proxy.timeout(0)
    with connect(proxy, timeout=0.5) as sock:
        sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert echo.received == 0  # dropped, not queued
        proxy.clear()
        got, _ = round_trip(sock, b"back")
        assert got == b"back"


def test_timeout_with_a_delay_closes_the_connection(proxy: FaultProxy):
    proxy.timeout(200)
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(10) == b""
        assert 0.15 <= time.monotonic() - started < 1.0


def test_bandwidth_paces_the_stream(proxy: FaultProxy):
    proxy.bandwidth(100)  # KiB/s
    with connect(proxy, timeout=5) as sock:
        got, elapsed = round_trip(sock, b"y" * 50 * 1024)
    assert len(got) == 50 * 1024
    assert 0.4 <= elapsed < 1.5, elapsed


def test_refused_upstream_closes_the_client(echo: EchoServer):
    with FaultProxy("127.0.0.1", free_port()) as p:
        try:
            sock = connect(p)
        except ConnectionResetError:
            pass  # the RST can beat the end of the handshake on loopback
        else:
            with _no_data(sock):
                pass
    assert p.stats.refused_upstream == 1


def test_http_through_the_proxy_sees_latency_and_outage():
    upstream = FakeUpstream("behind").start()
    try:
        with FaultProxy("127.0.0.1", upstream.port) as p, httpx.Client(base_url=p.url) as client:
            assert client.get("/health/ready").status_code == 200
            with p.fault("latency", 250):
                started = time.monotonic()
                assert client.get("/echo/a").json()["path"] == "/echo/a"
                assert time.monotonic() - started >= 0.25
            p.down()
            with pytest.raises(httpx.ConnectError):
                httpx.get(p.url + "/health/ready", timeout=1)
            p.up()
            assert httpx.get(p.url + "/health/ready", timeout=1).status_code == 200
    finally:
        upstream.stop()
