"""A three-node RabbitMQ cluster on loopback, for fault tests of quorum queues.

Each node is a :class:`RabbitMQServer` with its own node name, AMQP and distribution ports
and data directory; they share one Erlang cookie (one ``HOME``) and one epmd port, so they
can find each other and nothing else. Nodes 2 and 3 ``join_cluster`` node 1. Quorum queues
declared afterwards are replicated on all three (their default initial group size is the
cluster's size). :meth:`kill` SIGKILLs a node; :meth:`revive` starts it again on its data.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from flotilla.testing import free_port, port_open, wait_for
from flotilla.testing.rabbitmq import RabbitMQServer

CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
QUEUES = Path("/usr/lib/rabbitmq/bin/rabbitmq-queues")


class ClusterNode(RabbitMQServer):
    _proc: subprocess.Popen[bytes] | None
    def __init__(self, root: Path, home: Path, epmd_port: int, index: int) -> None:
        super().__init__(root=root)
        self._own_root = False
        self.home, self.epmd_port, self.index = home, epmd_port, index
        self.nodename = f"flotilla-c{index}-{os.getpid()}@localhost"

    def env(self) -> dict[str, str]:
        return {**super().env(), "HOME": str(self.home)}

    def ctl(self, *args: str, tool: Path = CTL, timeout: float = 60) -> str:
        result = subprocess.run([str(tool), "-n", self.nodename, *args], env=self.env(),
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool.name} {' '.join(args)} on {self.nodename}: "
                               f"{result.stdout}{result.stderr}")
        return result.stdout

    def kill(self) -> None:
        proc: subprocess.Popen[bytes] | None = self._proc
        self._proc = None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wait_for(lambda: not port_open(self.port), timeout=10, what="the AMQP port to close")


class RabbitMQCluster:
    def __init__(self, size: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="flotilla-rabbitmq-cluster-"))
        home = self.root / "home"
        home.mkdir()
        (home / ".erlang.cookie").write_text("FLOTILLACLUSTERCOOKIE")
        (home / ".erlang.cookie").chmod(0o400)
        epmd = free_port()
        self.nodes = []
        for i in range(1, size + 1):
            (self.root / f"n{i}").mkdir()
            self.nodes.append(ClusterNode(self.root / f"n{i}", home, epmd, i))

    def start(self) -> RabbitMQCluster:
        first, *others = self.nodes
        first.start()
        for node in others:
            node.start()
            node.ctl("stop_app")
            node.ctl("join_cluster", first.nodename)
            node.ctl("start_app")
        wait_for(lambda: all(n.nodename in first.ctl("cluster_status") for n in self.nodes),
                 timeout=60, what="all nodes in the cluster")
        return self

    def node_named(self, nodename: str) -> ClusterNode:
        return next(n for n in self.nodes if n.nodename == nodename)

    def leader(self, queue: str, via: ClusterNode | None = None) -> ClusterNode:
        """The node leading quorum queue ``queue`` (asked of ``via``, default a live node)."""
        node = via or next(n for n in self.nodes if n._proc is not None)
        out = node.ctl("list_queues", "name", "leader", "--quiet", "--no-table-headers")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return self.node_named(parts[1])
        raise LookupError(f"queue {queue} not found:\n{out}")

    def members(self, queue: str, via: ClusterNode | None = None) -> list[str]:
        node = via or next(n for n in self.nodes if n._proc is not None)
        out = node.ctl("list_queues", "name", "members", "--quiet", "--no-table-headers")
        for line in out.splitlines():
            if line.split(maxsplit=1)[0] == queue:
                return [m.strip("[],' ") for m in line.split(maxsplit=1)[1].split(",")]
        raise LookupError(queue)

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        subprocess.run(["epmd", "-kill"], env=self.nodes[0].env(), capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
