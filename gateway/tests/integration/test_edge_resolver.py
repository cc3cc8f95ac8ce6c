"""An edge whose gateway name does not resolve yet starts anyway and heals by itself.

Containers may start before their peers' names exist (compose starts them in order, names
appear late). With ``EDGE_RESOLVER`` set, nginx resolves the gateway at request time: until
the name exists it answers 502 problem+json, then it proxies, without a restart. The DNS
server here is a few lines answering A queries from a dict the test fills in.
"""

from __future__ import annotations

import socket
import struct
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from flotilla.testing import free_port, wait_for
from flotilla.testing.upstream import FakeUpstream
from gateway.nginx import EdgeConfig, NginxProcess, nameservers, upstream_directives

pytestmark = pytest.mark.slow


class TinyDNS:
    """A UDP DNS server on loopback: A records from ``names``, NXDOMAIN for the rest."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.sock.sendto(self._answer(query), peer)

    def _answer(self, query: bytes) -> bytes:
        labels, at = [], 12
        while query[at]:
            labels.append(query[at + 1:at + 1 + query[at]].decode())
            at += query[at] + 1
        question = query[12:at + 5]
        address = self.names.get(".".join(labels).lower())
        flags = 0x8180 if address else 0x8183  # a response, recursion available; rcode 3 when unknown
        header = query[:2] + struct.pack(">HHHHH", flags, 1, 1 if address else 0, 0, 0)
        if not address:
            return header + question
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4) + socket.inet_aton(address)
        return header + question + answer

    def close(self) -> None:
        self.sock.close()


def test_without_a_resolver_the_name_is_pooled_at_start_up():
    block, proxy = upstream_directives("gateway:8080", "")
    assert "upstream flotilla_gateway" in block and "server gateway:8080" in block
    assert proxy.strip() == "proxy_pass http://flotilla_gateway;"


def test_auto_takes_the_nameservers_of_resolv_conf(tmp_path: Path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search dns.podman\nnameserver 10.89.0.1\nnameserver fd00::1\n")
    assert nameservers(conf) == ["10.89.0.1", "[fd00::1]"]
    block, proxy = upstream_directives("gateway:8080", "auto", resolv_conf=conf)
    assert "resolver 10.89.0.1 [fd00::1] valid=5s" in block
    assert "set $flotilla_gateway gateway:8080;" in proxy
    with pytest.raises(RuntimeError, match="no nameserver"):
        upstream_directives("gateway:8080", "auto", resolv_conf=tmp_path / "missing")


def test_edge_starts_before_the_gateway_name_exists_and_heals():
    dns = TinyDNS()
    gateway = FakeUpstream("gateway")
    gateway.app.add_url_rule("/api/v1/echo/<path:rest>", "public_echo", lambda rest: {"path": rest})
    gateway.start()
    config = EdgeConfig(prefix=Path(tempfile.mkdtemp(prefix="edge-resolver-")), http_port=free_port(),
                        https_port=free_port(), gateway=f"gateway.flotilla.test:{gateway.port}",
                        resolver=f"127.0.0.1:{dns.port}")
    edge = NginxProcess(config).start()  # the name does not resolve yet: nginx starts all the same
    try:
        early = requests.get(edge.base_url + "/api/v1/echo/products", timeout=5)
        assert early.status_code == 502
        assert early.headers["Content-Type"] == "application/problem+json"
        dns.names["gateway.flotilla.test"] = "127.0.0.1"  # the peer's name appears
        healed = wait_for(lambda: (r := requests.get(edge.base_url + "/api/v1/echo/products", timeout=5))
                          .status_code == 200 and r, timeout=20, interval=0.5, what="the edge to heal")
        assert healed.status_code == 200
        assert gateway.hits["GET /api/v1/echo/products"] >= 1
    finally:
        edge.stop()
        gateway.stop()
        dns.close()
