"""The test broker (as make run's, scripts/rabbitmq.sh) listens on loopback only: AMQP, the
Erlang distribution port and epmd."""

from __future__ import annotations

from pathlib import Path

LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 as /proc spells them


def listeners(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_amqp_distribution_and_epmd_listen_on_loopback_only(rabbitmq_server):
    for name, port in (("amqp", rabbitmq_server.port), ("distribution", rabbitmq_server.dist_port),
                       ("epmd", rabbitmq_server.epmd_port)):
        bound = listeners(port)
        assert bound, f"{name} is not listening on {port}"
        assert bound <= LOOPBACK, f"{name} listens on {bound}"
