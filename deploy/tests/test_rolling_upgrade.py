"""Rolling upgrades, half done: one service runs twice, its released code (the commit the
compatibility baseline was taken at, deploy/compat/baseline/COMMIT) and its current code, API
and worker both, beside the other components at the current version or at the release, on one
database per service (migrated by the newest code that uses it: old code must cope with the
newer schema) and one RabbitMQ. The customer's journey runs through the gateway and must see no
error, while both instances of the half-upgraded service (and both its workers) take part."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
import requests

from flotilla.testing import free_port, wait_for
from flotilla.testing.processes import GunicornProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASELINE_COMMIT = ROOT / "deploy" / "compat" / "baseline" / "COMMIT"
QUEUES = [f"{svc}{suffix}" for svc in ("catalog", "orders")
          for suffix in ("", ".dlq", ".retry.100ms", ".retry.200ms")]
ORDERS = 6


def baseline_commit() -> str:
    """The commit the released baseline was taken at (written by ``make baseline``), or the one
    ``ROLLING_UPGRADE_FROM`` names (to rehearse an upgrade from any older release)."""
    commit = os.environ.get("ROLLING_UPGRADE_FROM") or BASELINE_COMMIT.read_text().strip()
    subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], check=True)
    return commit


SOURCES = {"users": "services/users", "catalog": "services/catalog", "orders": "services/orders",
           "gateway": "gateway"}


def old_tree(commit: str, into: Path) -> Path:
    """The released code of every component and of the kit (``git archive``: the working tree
    and its .git are left alone)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "shared",
                              *SOURCES.values()], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def image_site(old: Path, component: str, into: Path) -> Path:
    """What the component's released image holds in site-packages: the third-party libraries
    (links into this virtualenv's) and the old kit and component *installed* (a dist-info with the
    entry points of their old pyproject.toml), and nothing else of the platform: the old process
    must not discover entry points, nor import code, of components it does not ship with."""
    into.mkdir(parents=True)
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if not entry.name.startswith(("__editable__", "flotilla", "distutils-precedence")):
            (into / entry.name).symlink_to(entry)
    for source in (old / "shared", old / SOURCES[component]):
        project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
        groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
        info = into / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                       f"Version: {project['version']}\n")
        (info / "entry_points.txt").write_text("".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in groups.items()))
    return into


@dataclass
class Release:
    """How to run a component's released code: ``python -S`` with only this on PYTHONPATH."""

    tree: Path
    data: Path

    @property
    def cwd(self) -> Path:
        """An empty working directory: nothing importable from the current directory."""
        path = self.data / "run"
        path.mkdir(exist_ok=True)
        return path

    def pythonpath(self, component: str) -> str:
        site = self.data / f"site-{component}"
        if not site.exists():
            image_site(self.tree, component, site)
        return os.pathsep.join(str(p) for p in (self.tree / SOURCES[component], self.tree / "shared", site))

    def server(self, component: str, env: dict[str, str]) -> GunicornProcess:
        server = GunicornProcess(f"{component}:create_app()", workers=1, cwd=self.cwd,
                                 env={**env, "PYTHONPATH": self.pythonpath(component)})
        server._cmd.insert(1, "-S")
        return server

    def python(self, component: str, code: str, env: dict[str, str]) -> None:
        subprocess.run([sys.executable, "-S", "-c", code], check=True, cwd=self.cwd,
                       env={**env, "PYTHONPATH": self.pythonpath(component)})


class Worker:
    """``<svc>-worker run``, ready when its /health/ready says so: the installed code, or with
    ``pythonpath`` only what it names (``python -S``: no site-packages of this virtualenv)."""

    def __init__(self, service: str, env: dict[str, str], log_dir: Path, pythonpath: str = "",
                 cwd: Path | None = None) -> None:
        self.service, self.port = service, free_port()
        self.log = log_dir / f"{service}-worker-{self.port}.log"
        env = {**env, "WORKER_PORT": str(self.port)}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        code = (f"import sys; from {service}.worker import main; sys.argv = ['{service}-worker', 'run']; "
                "sys.exit(main())")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, *(["-S"] if pythonpath else []), "-c", code],
                                         stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.service}-worker exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def consumed(self) -> float:
        """Events this worker applied (its /metrics)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
            text = r.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("flotilla_events_consumed_total{") and 'outcome="applied"' in line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Upgrade:
    upgraded: str  # the service half upgraded: one instance (and worker) old, one new
    others: str  # "current" or "released": the version every other component runs at
    gateway: GunicornProcess
    instances: dict[str, GunicornProcess]  # the upgraded service's, "old" and "new"
    workers: dict[str, Worker]  # the upgraded service's workers, "old" and "new" (if it has one)
    release: Release


def _delete_queues(amqp_url: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        for queue in QUEUES:
            channel.queue_delete(queue)
    finally:
        conn.close()


SERVICES = ("users", "catalog", "orders")
WORKERS = ("catalog", "orders")
#: make test runs the first and the last; make chaos (FLOTILLA_CHAOS=1) every case.
CASES = [("catalog", "current"), ("catalog", "released"), ("orders", "released"), ("users", "released")]
if os.environ.get("FLOTILLA_CHAOS") != "1":
    CASES = [CASES[0], CASES[-1]]


def _migrate(env: dict[str, str], released: set[str], release: Release) -> None:
    """Each database by the code of the newest version that uses it (a new version migrates
    forward; old code must cope with the newer schema), the released code in its own process;
    then catalog's demo products."""
    import catalog
    import orders
    import users
    from catalog.cli import seed
    from catalog.config import CatalogSettings
    from flotilla import migrations

    for service in (users, catalog, orders):
        name, url = service.__name__, env[f"{service.__name__.upper()}_DATABASE_URL"]
        if name in released:
            release.python(name, f"import {name}; from flotilla import migrations; "
                                 f"migrations.upgrade({name}.MIGRATIONS, {url!r})", env)
        else:
            migrations.upgrade(service.MIGRATIONS, url)
    url = env["CATALOG_DATABASE_URL"]
    if "catalog" in released:
        release.python("catalog", "import catalog; from catalog.cli import seed; from catalog.config "
                                  "import CatalogSettings; "
                                  f"seed(catalog.create_app(CatalogSettings(database_url={url!r})))", env)
    else:
        app = catalog.create_app(CatalogSettings(database_url=url))
        seed(app)
        app.extensions["flotilla_db"].dispose()


@pytest.fixture(scope="module", params=CASES, ids=[f"{u}-half-others-{o}" for u, o in CASES])
def upgrade(request: pytest.FixtureRequest, rabbitmq_server) -> Iterator[Upgrade]:
    upgraded, others = request.param
    released = {c for c in (*SERVICES, "gateway") if c != upgraded and others == "released"}
    data = Path(tempfile.mkdtemp(prefix="flotilla-rolling-"))
    release = Release(old_tree(baseline_commit(), data / "old"), data)
    users_port = free_port()
    env = {**os.environ, "AMQP_URL": rabbitmq_server.url, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "console",
           "USERS_DATABASE_URL": f"sqlite:///{data / 'users.db'}",
           "CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}",
           "ORDERS_DATABASE_URL": f"sqlite:///{data / 'orders.db'}",
           "JWT_JWKS_URL": f"http://127.0.0.1:{users_port}/auth/jwks.json",
           "EVENTS_RETRY_DELAYS_MS": "100,200", "EVENTS_RELAY_IDLE_SECONDS": "0.05",
           "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "USERS_TRUSTED_PROXIES": "1"}
    env.pop("PYTHONPATH", None)
    _delete_queues(rabbitmq_server.url)
    _migrate(env, released, release)

    def servers(component: str, env: dict[str, str]) -> list[GunicornProcess]:
        new = GunicornProcess(f"{component}:create_app()", env=env, workers=1)
        if component == upgraded:
            return [release.server(component, env), new]
        return [release.server(component, env)] if component in released else [new]

    def workers(service: str) -> list[Worker]:
        old = Worker(service, env, data, pythonpath=release.pythonpath(service), cwd=release.cwd)
        if service == upgraded:
            return [old, Worker(service, env, data)]
        return [old] if service in released else [Worker(service, env, data)]

    parts: list[GunicornProcess | Worker] = []
    try:
        users = servers("users", env)
        users[0].port, users[0].base_url = users_port, f"http://127.0.0.1:{users_port}"
        users[0]._env["BIND"] = f"127.0.0.1:{users_port}"
        env["USERS_URL"] = ",".join(s.base_url for s in users)
        catalogs = servers("catalog", env)
        env["CATALOG_URL"] = ",".join(s.base_url for s in catalogs)
        orders = servers("orders", env)
        env["ORDERS_URL"] = ",".join(s.base_url for s in orders)
        gateway = servers("gateway", {**env, "GUNICORN_THREADS": "8"})[0]
        every = [*users, *catalogs, *orders, gateway]
        parts += every
        running = {service: workers(service) for service in WORKERS}
        parts += [w for ws in running.values() for w in ws]
        with ThreadPoolExecutor(len(every)) as pool:
            list(pool.map(lambda s: s.start(), every))
        for part in parts:
            if isinstance(part, Worker):
                wait_for(part.ready, timeout=30, what=f"{part.service}-worker ready")
        instances = {"users": users, "catalog": catalogs, "orders": orders}[upgraded]
        halves = running.get(upgraded, [])
        yield Upgrade(upgraded, others, gateway, dict(zip(("old", "new"), instances, strict=True)),
                      dict(zip(("old", "new"), halves, strict=True)) if halves else {}, release)
    finally:
        with ThreadPoolExecutor(max(1, len(parts))) as pool:
            list(pool.map(lambda part: part.stop(), parts))
        _delete_queues(rabbitmq_server.url)
        shutil.rmtree(data, ignore_errors=True)


def test_the_old_processes_run_the_released_code_alone(upgrade: Upgrade) -> None:
    """The old instance (and, when the others are at the release, the gateway) imports the
    archived code and kit, and sees no other component."""
    olds = {upgrade.upgraded: upgrade.instances["old"].pid}
    if upgrade.others == "released":
        olds["gateway"] = upgrade.gateway.pid
    for component, pid in olds.items():
        path = upgrade.release.pythonpath(component)
        assert f"PYTHONPATH={path}\0".encode() in Path(f"/proc/{pid}/environ").read_bytes()
        assert b"\0-S\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    tree, service = upgrade.release.tree, upgrade.upgraded
    others = [s for s in (*SERVICES, "gateway") if s != service]
    code = (f"import importlib.util as u, importlib.metadata as m, {service}, flotilla; "
            f"print({service}.__file__, flotilla.__file__); "
            f"print(*(u.find_spec(s) for s in {others!r})); "
            "print(sorted(e.name for e in m.entry_points(group='flotilla.events')))")
    probe = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": upgrade.release.pythonpath(service)},
                           cwd=upgrade.release.cwd)
    files, found, registries = probe.stdout.splitlines()
    assert all(f.startswith(str(tree)) for f in files.split()), files
    assert found == "None None None", found
    assert registries == f"[{service!r}]", registries


class Client:
    """Counts every answer that is not what the journey expects (client-visible errors)."""

    def __init__(self, base: str) -> None:
        self.base, self.http, self.errors = base + "/api/v1", requests.Session(), list[str]()

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,),
             **kwargs: object) -> requests.Response:
        response = self.http.request(method, self.base + path, timeout=10, **kwargs)  # type: ignore[arg-type]
        if response.status_code not in expect:
            self.errors.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
        return response


def _hits(server: GunicornProcess) -> float:
    """Requests the instance answered, from its /metrics (any request counter it exports)."""
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=2) as r:  # noqa: S310 (loopback)
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("flask_http_request_total{"))


def test_the_journey_with_one_service_half_upgraded(upgrade: Upgrade) -> None:
    c = Client(upgrade.gateway.base_url)
    before = {k: _hits(s) for k, s in upgrade.instances.items()}
    consumed = {k: w.consumed() for k, w in upgrade.workers.items()}
    email = f"rolling-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery staple"
    c.call("POST", "/auth/register", (201,), json={"email": email, "password": password, "name": "Rolling"})
    token = c.call("POST", "/auth/login", json={"email": email, "password": password}).json()["access_token"]
    for _ in range(3):  # signed in again (from another device): each users instance answers
        c.call("POST", "/auth/login", json={"email": email, "password": password})
    auth = {"Authorization": f"Bearer {token}"}
    product = max(c.call("GET", "/products?limit=20").json()["items"], key=lambda p: p["stock"])
    path = f"/products/{product['id']}"
    stock = c.call("GET", path).json()["stock"]
    placed = []
    for _ in range(ORDERS):
        body = c.call("POST", "/orders", (202,), headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                      json={"items": [{"product_id": product["id"], "quantity": 1}]}).json()
        assert "id" in body, c.errors
        placed.append(f"/orders/{body['id']}")
    for order in placed:
        wait_for(lambda o=order: c.call("GET", o, headers=auth).json()["status"] == "confirmed",
                 timeout=20, what=f"{order} confirmed")
        expanded = c.call("GET", order + "?expand=products", headers=auth).json()
        assert expanded["expanded"] == "complete" and expanded["lines"][0]["product"]["id"] == product["id"]
    assert c.call("GET", path).json()["stock"] == stock - ORDERS
    for order in placed:
        c.call("POST", order + "/cancel", (200, 202), headers=auth)
    for order in placed:
        wait_for(lambda o=order: c.call("GET", o, headers=auth).json()["status"] == "cancelled",
                 timeout=20, what=f"{order} cancelled")
    wait_for(lambda: c.call("GET", path).json()["stock"] == stock, timeout=20, what="stock released")
    for _ in range(10):
        c.call("GET", path)
    served = {k: _hits(s) - before[k] for k, s in upgrade.instances.items()}
    applied = {k: w.consumed() - consumed[k] for k, w in upgrade.workers.items()}
    print(f"\n{upgrade.upgraded} half upgraded, others {upgrade.others}: requests served old/new {served}, "
          f"events applied old/new {applied or '(no worker)'}")
    assert c.errors == []
    assert served["old"] > 0 and served["new"] > 0, served
    assert not applied or (applied["old"] > 0 and applied["new"] > 0), applied
