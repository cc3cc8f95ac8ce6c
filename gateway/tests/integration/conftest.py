"""Real processes: catalog instances (gunicorn), the gateway (gunicorn) and nginx, on free ports."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flotilla.testing import free_port
from flotilla.testing.processes import GunicornProcess
from gateway.nginx import EdgeConfig, NginxProcess


def kill_hard(server: GunicornProcess) -> None:
    """SIGKILL a gunicorn master and its workers: an instance that vanishes without a word."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    for pid in [*map(int, children), server.pid]:
        os.kill(pid, signal.SIGKILL)
    server._proc.wait()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def catalog_db(tmp_path_factory) -> str:
    from catalog import MIGRATIONS, create_app
    from catalog.bootstrap import catalog_of
    from catalog.cli import seed
    from catalog.config import CatalogSettings
    from flotilla import migrations

    url = f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.db'}"
    migrations.upgrade(MIGRATIONS, url)
    app = create_app(CatalogSettings(database_url=url, log_format="console"))
    assert seed(app) > 0
    catalog_of(app).db.dispose()
    return url


def start_catalog(url: str) -> GunicornProcess:
    env = {"CATALOG_DATABASE_URL": url, "LOG_LEVEL": "WARNING", "GUNICORN_THREADS": "8"}
    return GunicornProcess("catalog:create_app()", env=env, workers=1).start()


def start_gateway(catalog_urls: list[str], **extra: str) -> GunicornProcess:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"CATALOG_URL": ",".join(catalog_urls), "USERS_URL": dead, "ORDERS_URL": dead,
           "GATEWAY_TRUSTED_PROXIES": "1", "GATEWAY_RATE_LIMIT": "100000/minute",
           "LOG_LEVEL": "WARNING", "GUNICORN_THREADS": "16", **extra}
    return GunicornProcess("gateway:create_app()", env=env, workers=1).start()


def start_nginx(gateway_port: int, **overrides: object) -> NginxProcess:
    prefix = Path(tempfile.mkdtemp(prefix="flotilla-nginx-"))
    config = EdgeConfig(prefix=prefix, http_port=free_port(), https_port=free_port(),
                        gateway=f"127.0.0.1:{gateway_port}", rate=100000, burst=100000)
    for key, value in overrides.items():
        setattr(config, key, value)
    return NginxProcess(config).start()


@pytest.fixture(scope="module")
def catalog_pair(catalog_db) -> Iterator[list[GunicornProcess]]:
    servers = [start_catalog(catalog_db), start_catalog(catalog_db)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def gateway_proc(catalog_pair) -> Iterator[GunicornProcess]:
    server = start_gateway([s.base_url for s in catalog_pair], GATEWAY_BREAKER_RESET_SECONDS="30")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def edge(gateway_proc) -> Iterator[NginxProcess]:
    server = start_nginx(gateway_proc.port)
    yield server
    server.stop()


@pytest.fixture
def kill() -> object:
    return kill_hard


@pytest.fixture
def nginx_for() -> Iterator[object]:
    """Start an extra nginx in front of a gateway port, with config overrides; stopped after the test."""
    started: list[NginxProcess] = []

    def make(gateway_port: int, **overrides: object) -> NginxProcess:
        started.append(start_nginx(gateway_port, **overrides))
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def gateway_for() -> Iterator[object]:
    started: list[GunicornProcess] = []

    def make(catalog_urls: list[str], **extra: str) -> GunicornProcess:
        started.append(start_gateway(catalog_urls, **extra))
        return started[-1]

    yield make
    for server in started:
        server.stop()
