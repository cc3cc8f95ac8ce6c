"""The whole platform as it runs in production, on loopback: RabbitMQ, users, two catalog
instances, orders, both workers, the gateway and nginx, each a real process (SQLite files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pytest

from flotilla.testing import free_port, wait_for
from flotilla.testing.processes import GunicornProcess
from gateway.nginx import EdgeConfig, NginxProcess

BIN = Path(sys.executable).parent
QUEUES = [f"{svc}{suffix}" for svc in ("catalog", "orders")
          for suffix in ("", ".dlq", ".retry.100ms", ".retry.200ms")]


class Worker:
    """``catalog-worker run`` / ``orders-worker run``, ready when its /health/ready says so."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.command, self.port = command, free_port()
        self.log = Path(tempfile.mkstemp(prefix=f"{command}-", suffix=".log")[1])
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(BIN / command), "run"], stdout=out, stderr=subprocess.STDOUT,
                                         env={**env, "WORKER_PORT": str(self.port)})

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.command} exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=2) as r:
                return bool(r.status == 200)
        except urllib.error.URLError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: The admin users creates at start-up (FLOTILLA_ADMIN_EMAIL), for the operator console.
ADMIN = ("admin@flotilla.test", "e2e admin password")


@dataclass
class Platform:
    edge: NginxProcess
    catalogs: list[GunicornProcess]
    parts: list[object] = field(default_factory=list)
    gateway: GunicornProcess | None = None  # its internal port: /health, /console
    data: Path | None = None  # the SQLite files
    admin: tuple[str, str] = ADMIN


def _delete_queues(amqp_url: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        for queue in QUEUES:
            channel.queue_delete(queue)
    finally:
        conn.close()


def _migrate(env: dict[str, str]) -> None:
    """Each service's migrations (and catalog's demo products), in this process: no CLI start-ups."""
    import catalog
    import orders
    import users
    from catalog.bootstrap import catalog_of
    from catalog.cli import seed
    from catalog.config import CatalogSettings
    from flotilla import migrations

    for service, url in ((users, env["USERS_DATABASE_URL"]), (orders, env["ORDERS_DATABASE_URL"]),
                         (catalog, env["CATALOG_DATABASE_URL"])):
        migrations.upgrade(service.MIGRATIONS, url)
    app = catalog.create_app(CatalogSettings(database_url=env["CATALOG_DATABASE_URL"]))
    seed(app)
    catalog_of(app).db.dispose()


@pytest.fixture(scope="module")
def platform(rabbitmq_server) -> Iterator[Platform]:
    data = Path(tempfile.mkdtemp(prefix="flotilla-e2e-"))
    users_port = free_port()
    env = {**os.environ, "AMQP_URL": rabbitmq_server.url, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "console",
           "USERS_DATABASE_URL": f"sqlite:///{data / 'users.db'}",
           "CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}",
           "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}",
           "JWT_JWKS_URL": f"http://127.0.0.1:{users_port}/auth/jwks.json",
           "EVENTS_RETRY_DELAYS_MS": "100,200", "EVENTS_RELAY_IDLE_SECONDS": "0.05",
           "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "USERS_TRUSTED_PROXIES": "2",
           "FLOTILLA_ADMIN_EMAIL": ADMIN[0], "FLOTILLA_ADMIN_PASSWORD": ADMIN[1]}
    _delete_queues(rabbitmq_server.url)
    _migrate(env)
    parts: list = []
    try:
        users = GunicornProcess("users:create_app()", env=env, workers=1)
        users.port, users.base_url = users_port, f"http://127.0.0.1:{users_port}"
        users._env["BIND"] = f"127.0.0.1:{users_port}"
        catalogs = [GunicornProcess("catalog:create_app()", env=env, workers=1) for _ in range(2)]
        env["CATALOG_URL"] = ",".join(c.base_url for c in catalogs)
        orders = GunicornProcess("orders:create_app()", env=env, workers=1)
        workers = [Worker("catalog-worker", env), Worker("orders-worker", env)]
        parts += workers
        consoled = ",".join(f"{w.command.removesuffix('-worker')}=http://127.0.0.1:{w.port}" for w in workers)
        gateway = GunicornProcess("gateway:create_app()", workers=1, env={
            **env, "USERS_URL": users.base_url, "ORDERS_URL": orders.base_url,
            "GATEWAY_TRUSTED_PROXIES": "1", "GUNICORN_THREADS": "16", "GATEWAY_CONSOLE_WORKERS": consoled})
        servers = [users, *catalogs, orders, gateway]
        parts += servers
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda s: s.start(), servers))
        for worker in workers:
            wait_for(worker.ready, timeout=30, what=f"{worker.command} ready")
        edge = NginxProcess(EdgeConfig(prefix=data / "nginx", http_port=free_port(), https_port=free_port(),
                                       gateway=f"127.0.0.1:{gateway.port}")).start()
        parts.append(edge)
        yield Platform(edge, catalogs, parts, gateway, data)
    finally:
        with ThreadPoolExecutor(max(1, len(parts))) as pool:
            list(pool.map(lambda part: part.stop(), parts))
        _delete_queues(rabbitmq_server.url)


@pytest.fixture
def kill():
    def kill_hard(server: GunicornProcess) -> None:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        for pid in [*map(int, children), server.pid]:
            os.kill(pid, signal.SIGKILL)
        server._proc.wait()  # type: ignore[union-attr]

    return kill_hard
