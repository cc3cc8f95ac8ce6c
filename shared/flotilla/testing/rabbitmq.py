"""A throwaway RabbitMQ node from Debian's ``rabbitmq-server``, run as a plain process.

Everything the node owns lives in one directory (data, logs, config, Erlang cookie)
and every port is free and its own (AMQP, Erlang distribution, epmd), so it never
meets the system service or another test session. :meth:`restart` keeps the data:
durable queues and persistent messages survive it, as they would in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from flotilla.testing import free_port, port_open, wait_for

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")

CONFIG = """\
listeners.tcp.default = 127.0.0.1:{port}
loopback_users = none
disk_free_limit.absolute = 50MB
log.file.level = warning
"""


class RabbitMQUnavailable(RuntimeError):
    pass


class RabbitMQServer:
    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        if not SERVER.exists():
            raise RabbitMQUnavailable(f"{SERVER} not found: run `make deps` "
                                      "(apt-get install rabbitmq-server)")
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="flotilla-rabbitmq-"))
        self.port = port or free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.nodename = f"flotilla-{uuid.uuid4().hex[:8]}@localhost"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        r = self.root
        return {
            **os.environ,
            "HOME": str(r),  # the Erlang cookie goes here
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",  # epmd and the distribution port on loopback too
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(r / "mnesia"),
            "RABBITMQ_LOG_BASE": str(r / "log"),
            "RABBITMQ_CONFIG_FILE": str(r / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(r / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(r / "rabbitmq.pid"),
        }

    def start(self, timeout: float = 90.0) -> RabbitMQServer:
        (self.root / "rabbitmq.conf").write_text(CONFIG.format(port=self.port))
        (self.root / "enabled_plugins").write_text("[].\n")
        log = (self.root / "server.log").open("ab")
        self._proc = subprocess.Popen([str(SERVER)], env=self.env(), cwd=self.root, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: self._alive() and port_open(self.port), timeout=timeout, interval=0.1,
                     what=f"rabbitmq on port {self.port}")
        except TimeoutError:
            self.stop()
            raise RabbitMQUnavailable(f"rabbitmq did not start:\n{self.logs()[-4000:]}") from None
        return self

    def _alive(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RabbitMQUnavailable(f"rabbitmq exited:\n{self.logs()[-4000:]}")
        return True

    def logs(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the node (SIGTERM: a clean shutdown), keeping its data."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wait_for(lambda: not port_open(self.port), timeout=10, what="the AMQP port to close")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node and its epmd, and remove its directory if we made it."""
        self.stop()
        subprocess.run(["epmd", "-kill"], env=self.env(), capture_output=True, check=False)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
