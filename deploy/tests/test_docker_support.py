"""The scripts every image runs: the entrypoint (migrate, then exec the role), the
healthcheck, and the dependency lister the Dockerfiles install from. Run here for real,
against the virtualenv's installed catalog and a throwaway SQLite database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from flotilla.testing import free_port, port_open, wait_for

from .conftest import ROOT

DOCKER = ROOT / "deploy" / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "PROMETHEUS_"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", FLOTILLA_SERVICE="catalog",
               CATALOG_DATABASE_URL=f"sqlite:///{tmp_path / 'catalog.db'}", LOG_FORMAT="console",
               JWT_JWKS_URL="http://127.0.0.1:9/auth/jwks.json")
    env.update(extra)
    return env


def _healthcheck(env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py")], env=env, timeout=30,
                          check=False).returncode


def test_component_deps_lists_third_party_requirements_only() -> None:
    out = subprocess.run([sys.executable, str(DOCKER / "component_deps.py"), "shared", "services/catalog"],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout.split()
    shared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out == shared  # catalog itself depends on the kit only
    assert "flotilla" not in out


def test_migrate_role_migrates_and_other_commands_are_execd(tmp_path: Path) -> None:
    env = _env(tmp_path)
    subprocess.run(["sh", str(ENTRYPOINT), "migrate"], env=env, cwd=tmp_path, check=True, timeout=120,
                   capture_output=True)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone()
    other = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", "echo $FLOTILLA_SERVICE"], env=env,
                           check=True, timeout=30, capture_output=True, text=True)
    assert other.stdout == "catalog\n"


def test_migrations_are_retried_then_the_container_fails(tmp_path: Path) -> None:
    nobody = f"postgresql://flotilla@127.0.0.1:{free_port()}/catalog"  # connection refused
    env = _env(tmp_path, CATALOG_DATABASE_URL=nobody, MIGRATE_ATTEMPTS="2")
    proc = subprocess.run(["sh", str(ENTRYPOINT), "api"], env=env, cwd=tmp_path, timeout=120,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "retrying in 1s" in proc.stderr and "giving up" in proc.stderr


def test_api_role_serves_and_the_healthcheck_sees_it(tmp_path: Path) -> None:
    port, spare = free_port(), free_port()
    env = _env(tmp_path, PORT=str(port), WORKER_PORT=str(spare), WEB_CONCURRENCY="1",
               HOST="127.0.0.1")
    assert _healthcheck(env) == 1  # nothing listens yet
    proc = subprocess.Popen(["sh", str(ENTRYPOINT), "api"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, timeout=60, what="gunicorn")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        wait_for(lambda: _healthcheck(env) == 0, timeout=30, what="healthcheck")
    finally:
        proc.terminate()  # the entrypoint exec'd gunicorn: this is its master
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("gunicorn did not stop on SIGTERM")
