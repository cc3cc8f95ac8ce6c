"""The newcomer's path: `make help` and the README agree with the Makefile, and every shell
block in the README runs as written against a platform started by scripts/run.sh.

The walk copies scripts/ and the Procfile to a temporary root (its own var/, every port a
free one), starts the platform, waits for flotilla.runner's "ready" table, then runs the
README's ```sh blocks in order in one bash (variables carry over), with the documented
ports replaced by the free ones. A block preceded by ``<!-- not-run -->`` is an example for
another environment (compose, Kubernetes, `make` itself) and is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flotilla.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_RUN = "<!-- not-run -->"

#: Documented port -> the variable scripts/run.sh and the Procfile read it from.
PORT_VARIABLES = {
    8000: "EDGE_HTTP_PORT", 8443: "EDGE_HTTPS_PORT", 8080: "GATEWAY_PORT",
    8081: "USERS_PORT", 8082: "CATALOG_PORT", 8083: "ORDERS_PORT",
    9081: "USERS_WORKER_PORT", 9082: "CATALOG_WORKER_PORT", 9083: "ORDERS_WORKER_PORT",
    5672: "RABBITMQ_PORT", 6379: "REDIS_PORT", 9090: "PROMETHEUS_PORT",
}


def shell_blocks(text: str) -> list[str]:
    """The README's ```sh blocks meant to run against `make run`, in order."""
    blocks = []
    for match in re.finditer(r"(?P<before>[^\n]*)\n```sh\n(?P<body>.*?)```", text, re.S):
        if NOT_RUN in match.group("before"):
            continue
        body = match.group("body")
        if body.lstrip().startswith("$ "):  # a transcript (command and its output), not a script
            continue
        blocks.append(body)
    return blocks


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return {m for m in re.findall(r"^([a-z][a-z-]*):", makefile, re.M)}


def test_make_help_lists_every_target() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make ([a-z][a-z-]*)", out, re.M))
    assert make_targets() - {"help"} <= listed, make_targets() - listed


def test_readme_names_only_commands_a_fresh_debian_has() -> None:
    text = README.read_text()
    assert "uuidgen" not in text
    assert not re.search(r"^\s*open http", text, re.M)
    # Bare service CLIs clash (`users` is coreutils) or are not on PATH: spelled out from the root.
    for name in ("users", "catalog", "orders", "users-worker", "catalog-worker", "orders-worker"):
        assert not re.search(rf"`{name} [a-z]", text), name
        for block in shell_blocks(text):
            assert not re.search(rf"^\s*{name}\b", block, re.M), (name, block)
    assert "mypy" in text.split("make test", 1)[1].splitlines()[0]


def test_readme_shell_blocks_are_found() -> None:
    blocks = shell_blocks(README.read_text())
    assert any("/auth/login" in b for b in blocks)
    assert not any("make run" in b for b in blocks), "the Two commands block must be marked not-run"


def _substitute_ports(script: str, ports: dict[str, int]) -> str:
    for documented, variable in PORT_VARIABLES.items():
        script = re.sub(rf"(?<=[:/]){documented}\b", str(ports[variable]), script)
    return script


@pytest.mark.slow
def test_readme_walk(tmp_path: Path) -> None:
    root = tmp_path / "flotilla"
    root.mkdir()
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copy(ROOT / "Procfile", root / "Procfile")
    (root / ".venv").symlink_to(ROOT / ".venv")
    (root / "deploy").symlink_to(ROOT / "deploy")  # Prometheus rules
    ports = {variable: free_port() for variable in PORT_VARIABLES.values()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "RABBITMQ_NODENAME": f"readme{ports['RABBITMQ_PORT']}@localhost", "RUN_READY_TIMEOUT": "100"}
    env.pop("AMQP_URL", None)
    env.pop("REDIS_URL", None)
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["scripts/run.sh"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        output = ""
        while time.monotonic() < deadline and proc.poll() is None:
            output = (tmp_path / "run.log").read_text()
            if "Flotilla is ready" in output or "Flotilla is NOT ready" in output:
                break
            time.sleep(1)
        assert "Flotilla is ready" in output, f"run.sh exit status {proc.poll()}:\n{output[-6000:]}"
        script = "\n".join(_substitute_ports(b, ports) for b in shell_blocks(README.read_text()))
        prelude = ("set -euo pipefail\n"
                   "curl() { command curl --silent --show-error --fail-with-body \"$@\"; }\n")
        # A second shell knows no broker variables: the CLIs find the broker through var/run.env.
        shell_env = {k: v for k, v in env.items() if k not in {"RABBITMQ_PORT", "AMQP_URL"}}
        walk = subprocess.run(["bash", "-x", "-c", prelude + script], cwd=root, env=shell_env,
                              capture_output=True, text=True, timeout=120)
        assert walk.returncode == 0, f"{walk.stdout[-4000:]}\n{walk.stderr[-6000:]}"
    finally:
        for sig in (signal.SIGINT, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)  # honcho and every process it started
                proc.wait(timeout=30)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()
        print((tmp_path / "run.log").read_text()[-3000:], file=sys.stderr)


def test_flask_app_users_migrate_on_a_fresh_database(tmp_path: Path) -> None:
    """App creation under the Flask CLI touches no table before `migrate` made them."""
    env = {**os.environ, "USERS_DATABASE_URL": f"sqlite:///{tmp_path}/users.db",
           "FLOTILLA_ADMIN_EMAIL": "admin@example.org", "FLOTILLA_ADMIN_PASSWORD": "a long password"}
    flask = ROOT / ".venv/bin/flask"
    done = subprocess.run([str(flask), "--app", "users", "migrate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "database at head" in done.stdout
