"""A scaffolded service starts under `make run` (scripts/run.sh) behind the edge.

In a temporary copy of the repository: `flotilla.platform add payments`, then the copy's own
scripts/run.sh on free ports (every port the Procfile, run.sh, rabbitmq.sh and prometheus.sh
read is overridden), with the copy's code first on PYTHONPATH and the copy's `payments`
commands beside the installed ones. Through the edge: an admin (made by users at start-up)
creates a payments item and reads it back; the merged /openapi.json has the payments paths.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flotilla import platform
from flotilla.testing import free_port, wait_for

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
ADMIN = {"email": "admin@flotilla.local", "password": "payments-test-admin"}


def _copy_repository(copy: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=platform.ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = platform.ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)


def _commands(copy: Path, services: list[str]) -> None:
    """``<copy>/.venv/bin``: the installed commands (run.sh's default VENV), and the commands
    of a service the installed environment does not have (payments), run from the copy."""
    bin_dir = copy / ".venv/bin"
    bin_dir.mkdir(parents=True)

    def script(name: str, body: str) -> None:
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)

    for installed in VENV_BIN.iterdir():
        if installed.is_file() and os.access(installed, os.X_OK):
            script(installed.name, f'exec {installed} "$@"')
    for service in services:
        for command, module in ((service, "cli"), (f"{service}-worker", "worker")):
            if not (bin_dir / command).exists():
                call = f"import sys; sys.argv[0] = {command!r}; from {service}.{module} import main; main()"
                script(command, f'exec {VENV_BIN / "python"} -c "{call}" "$@"')


def _our_processes(marker: str) -> list[int]:
    """Every process started under the run (the marker is in each one's environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"FLOTILLA_SCAFFOLD_RUN={marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def running_copy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    copy = tmp_path / "repo"
    _copy_repository(copy)
    assert platform.main(["add", "payments", "--root", str(copy)]) == 0
    services = platform.load(copy)
    _commands(copy, [s.name for s in services])
    marker = uuid.uuid4().hex
    ports = {name: str(free_port()) for name in (
        "GATEWAY_PORT", "EDGE_HTTP_PORT", "EDGE_HTTPS_PORT", "RABBITMQ_PORT", "RABBITMQ_DIST_PORT",
        "ERL_EPMD_PORT", "REDIS_PORT", "PROMETHEUS_PORT")}
    for s in services:
        ports[f"{s.name.upper()}_PORT"] = str(free_port())
        if s.worker:
            ports[f"{s.name.upper()}_WORKER_PORT"] = str(free_port())
    code = [copy / "shared", copy / "gateway", *(copy / "services" / s.name for s in services)]
    env = {"PATH": os.environ["PATH"], "LANG": os.environ.get("LANG", "C.UTF-8"),
           "TMPDIR": str(tmp_path), "HOME": str(tmp_path), **ports,
           "PYTHONPATH": os.pathsep.join(map(str, code)), "FLOTILLA_SCAFFOLD_RUN": marker,
           "RABBITMQ_NODENAME": f"scaffold{marker[:8]}@localhost", "WEB_CONCURRENCY": "1",
           "FLOTILLA_ADMIN_EMAIL": ADMIN["email"], "FLOTILLA_ADMIN_PASSWORD": ADMIN["password"],
           "RUN_READY_TIMEOUT": "300"}
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(["bash", "scripts/run.sh"], cwd=copy, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{ports['EDGE_HTTP_PORT']}", tmp_path / "run.log"
    finally:
        run.send_signal(signal.SIGINT)  # honcho stops every process, as Ctrl-C does
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
        for pid in _our_processes(marker):  # anything that outlived honcho
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        assert run.returncode is not None


def test_a_new_service_answers_through_the_edge_and_is_in_the_merged_openapi(running_copy) -> None:
    edge, log = running_copy
    http = httpx.Client(base_url=edge, timeout=5.0)

    def token() -> str | None:
        try:
            response = http.post("/api/v1/auth/login", json=ADMIN)
        except httpx.HTTPError:
            return None
        return response.json()["access_token"] if response.status_code == 200 else None

    try:
        # Generous: migrating four services and starting fifteen processes on a busy machine.
        admin = wait_for(token, timeout=300, interval=0.5, what="an admin's login through the edge")
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n--- run.sh:\n{log.read_text()[-6000:]}")
    headers = {"Authorization": f"Bearer {admin}"}

    def payments_answers() -> httpx.Response | None:
        response = http.post("/api/v1/payments", json={"name": "First payment"}, headers=headers)
        return response if response.status_code != 503 else None  # still starting

    created = wait_for(payments_answers, timeout=60, interval=0.5, what="payments behind the gateway")
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["Location"] == f"/api/v1/payments/{item['id']}"
    fetched = http.get(created.headers["Location"])
    assert fetched.status_code == 200 and fetched.json() == item
    refused = http.post("/api/v1/payments", json={"name": "No token"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")

    document = http.get("/api/v1/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert {"/api/v1/payments", "/api/v1/payments/{item_id}"} <= set(paths), sorted(paths)
    assert "/api/v1/products" in paths  # the other services' documents are still merged
