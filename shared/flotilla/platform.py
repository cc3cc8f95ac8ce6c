"""The one list of services (``services.toml`` at the repository root) and the files made from it.

Every file that repeats the list carries a block between ``BEGIN generated: services`` and
``END generated`` markers; :func:`generate` rewrites only those blocks, so hand edits elsewhere in
the file survive. ``shared/flotilla/services_list.py`` is generated whole: the kit (static
discovery) and the gateway (routes, timeouts) read it at run time, without the TOML file, so the
images need nothing but the installed kit.

    python -m flotilla.platform generate   # rewrite (make generate)
    python -m flotilla.platform check      # exit 1 and name the stale files
    python -m flotilla.platform services   # the list, one service a line
    python -m flotilla.platform names      # the names on one line (for shell scripts)
    python -m flotilla.platform add NAME   # a new entry (next free ports, route /NAME), the service's
                                           # package from deploy/templates/service/, then generate
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import string
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST_FILE = "services.toml"
NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
SERVICE_TEMPLATE = "deploy/templates/service"
BEGIN = "BEGIN generated: services"
END = "END generated"


class ListError(ValueError):
    """services.toml says something impossible (a clash, a bad name, a missing field)."""


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    database: str
    worker_port: int | None = None
    routes: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    compose_env: dict[str, str] = field(default_factory=dict)
    #: the services whose api this one's api calls (its NetworkPolicies allow exactly those)
    calls: tuple[str, ...] = ()

    @property
    def worker(self) -> bool:
        return self.worker_port is not None


def load(root: Path = ROOT) -> list[Service]:
    """The services, in file order, checked: unique names, ports, databases and prefixes."""
    data = tomllib.loads((root / LIST_FILE).read_text())
    services: list[Service] = []
    for name, spec in data.get("services", {}).items():
        if not NAME.match(name):
            raise ListError(f"{name!r}: a service name is 2-31 lowercase letters or digits")
        try:
            worker_port = spec.get("worker_port")
            services.append(Service(
                name=name, port=int(spec["port"]), database=str(spec.get("database", name)),
                worker_port=int(worker_port) if worker_port is not None else None,
                routes={str(p): float(t) for p, t in spec.get("routes", {}).items()},
                env={str(k): str(v) for k, v in spec.get("env", {}).items()},
                compose_env={str(k): str(v) for k, v in spec.get("compose_env", {}).items()},
                calls=tuple(str(c) for c in spec.get("calls", []))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ListError(f"{name}: {exc!r}") from exc
    ports = [s.port for s in services] + [s.worker_port for s in services if s.worker_port]
    if len(ports) != len(set(ports)) or 8080 in ports:
        raise ListError(f"ports clash (8080 is the gateway's): {sorted(ports)}")
    prefixes = [p for s in services for p in s.routes]
    if len(prefixes) != len(set(prefixes)) or any(not p.startswith("/") for p in prefixes):
        raise ListError(f"route prefixes must be unique and start with '/': {prefixes}")
    databases = [s.database for s in services]
    if len(databases) != len(set(databases)):
        raise ListError(f"databases clash: {databases}")
    names = {s.name for s in services}
    for s in services:
        if s.name in s.calls or not set(s.calls) <= names or len(set(s.calls)) != len(s.calls):
            raise ListError(f"{s.name}: calls names other services of the list, once each: {list(s.calls)}")
    return services


# --- the generated parts -------------------------------------------------------------------------


def _services_list(services: list[Service]) -> str:
    lines = ['"""The platform\'s services, generated from services.toml by `make generate`: do not edit."""',
             "", "from __future__ import annotations", "", "PORTS: dict[str, int] = {"]
    lines += [f"    {s.name!r}: {s.port}," for s in services]
    lines += ["}", "", "WORKER_PORTS: dict[str, int] = {"]
    lines += [f"    {s.name!r}: {s.worker_port}," for s in services if s.worker_port]
    lines += ["}", "", "#: (public prefix under /api/v1, service, gateway timeout in seconds)",
              "ROUTES: tuple[tuple[str, str, float], ...] = ("]
    lines += [f"    ({p!r}, {s.name!r}, {t!r})," for s in services for p, t in s.routes.items()]
    lines += [")", "", "DATABASES: dict[str, str] = {"]
    lines += [f"    {s.name!r}: {s.database!r}," for s in services]
    lines += ["}", ""]
    return "\n".join(lines)


def _procfile(services: list[Service]) -> str:
    lines = []
    for s in services:
        var = s.name.upper()
        env = "".join(f"{k}={v} " for k, v in s.env.items())
        lines.append(f"{s.name}: env PORT=${{{var}_PORT:-{s.port}}} {env}"
                     f"PROMETHEUS_MULTIPROC_DIR=var/metrics/{s.name} "
                     f"gunicorn -c python:flotilla.gunicorn_conf '{s.name}:create_app()'")
        if s.worker_port:
            lines.append(f"{s.name}-worker: env WORKER_PORT=${{{var}_WORKER_PORT:-{s.worker_port}}} "
                         f"{s.name}-worker")
    return "\n".join(lines)


def _prometheus(services: list[Service]) -> str:
    lines = []
    for s in services:
        lines += [f"  - job_name: {s.name}-api",
                  f"    dns_sd_configs: [{{names: [{s.name}-api], type: A, port: {s.port}}}]"]
        if s.worker:  # under compose every worker serves /metrics on 9000
            lines += [f"  - job_name: {s.name}-worker",
                      f"    dns_sd_configs: [{{names: [{s.name}-worker], type: A, port: 9000}}]"]
    return "\n".join(lines)


def _compose(services: list[Service]) -> str:
    out: list[str] = []
    for s in services:
        url = (f"postgresql://{s.database}:${{FLOTILLA_DB_PASSWORD:-flotilla}}"
               f"@postgres:5432/{s.database}")
        out.append(f"  # --- {s.name} " + "-" * max(3, 80 - len(s.name)))
        for role in ("api", "worker") if s.worker else ("api",):
            out += [f"  {s.name}-{role}:", "    <<: *python-service",
                    f"    build: {{context: ., dockerfile: services/{s.name}/Dockerfile}}",
                    f"    image: flotilla/{s.name}:dev", f'    command: ["{role}"]',
                    "    environment:", "      <<: *common-env",
                    f"      {s.name.upper()}_DATABASE_URL: {url}"]
            if role == "api":
                out += [f"      {k}: {json.dumps(v)}" for k, v in s.compose_env.items()]
                out += ["    depends_on: *infra", ""]
            else:
                out += ["    depends_on:", "      <<: *infra",
                        f"      {s.name}-api: {{condition: service_healthy}}  # its migrations have run", ""]
    return "\n".join(out)


def _migrate_patches(services: list[Service]) -> str:
    """The migrations component: every api and worker Deployment starts with MIGRATE_ON_START=0."""
    out = []
    for s in services:
        for role in ("api", "worker") if s.worker else ("api",):
            out += [f"  - target: {{kind: Deployment, name: {s.name}-{role}}}", "    patch: |-",
                    "      - op: add", "        path: /spec/template/spec/containers/0/env/-",
                    '        value: {name: MIGRATE_ON_START, value: "0"}']
    return "\n".join(out)


def _selector(name: str, component: str = "api") -> str:
    return ("{podSelector: {matchLabels: {app.kubernetes.io/name: " + name
            + ", app.kubernetes.io/component: " + component + "}}}")


def _account_patches(services: list[Service]) -> str:
    """The least-privilege component: every api and worker Deployment runs as its own
    ServiceAccount, without a token."""
    out = []
    for s in services:
        for role in ("api", "worker") if s.worker else ("api",):
            out += [f"  - target: {{kind: Deployment, name: {s.name}-{role}}}", "    patch: |-",
                    "      - {op: add, path: /spec/template/spec/serviceAccountName, value: "
                    f"{s.name}-{role}}}",
                    "      - {op: add, path: /spec/template/spec/automountServiceAccountToken, value: false}"]
    return "\n".join(out)


def _words(services: list[Service], attr: str = "name", indent: str = "", pattern: str = "{}") -> str:
    return indent + " ".join(pattern.format(getattr(s, attr)) for s in services)


_POLICIES = "deploy/k8s/components/least-privilege/networkpolicies.yaml"
#: file -> (comment leader, how the block is made); the blocks sit between marker comments.
BLOCKS: dict[str, tuple[str, Callable[[list[Service]], str]]] = {
    "Procfile": ("#", _procfile),
    "docker-compose.yml": ("  #", _compose),
    "docker-compose.yml#gateway": ("      #", lambda ss: "\n".join(
        f"      {s.name}-api: {{condition: service_healthy}}" for s in ss)),
    "Makefile": ("#", lambda ss: "SERVICES := " + _words(ss)),
    "deploy/prometheus/prometheus.yml": ("  #", _prometheus),
    "deploy/postgres/init-databases.sh": ("#", lambda ss: "databases=\"" + _words(ss, "database") + "\""),
    "deploy/k8s/base/kustomization.yaml": ("  #", lambda ss: "\n".join(f"  - {s.name}" for s in ss)),
    "deploy/k8s/overlays/dev/kustomization.yaml#images": ("  #", lambda ss: "\n".join(
        f"  - {{name: flotilla/{s.name}, newName: localhost/flotilla/{s.name}, newTag: dev}}" for s in ss)),
    "deploy/k8s/overlays/dev/kustomization.yaml#replicas": ("  #", lambda ss: "\n".join(
        f"  - {{name: {s.name}-api, count: 1}}" for s in ss)),
    "deploy/k8s/overlays/dev/kustomization.yaml#secrets": ("  #", lambda ss: "\n".join(
        f"  - name: {s.name}-database\n"
        f"    literals: [url=postgresql://{s.database}:flotilla@postgres:5432/{s.database}]" for s in ss)),
    "deploy/k8s/overlays/prod/kustomization.yaml#images": ("  #", lambda ss: "\n".join(
        f"  - {{name: flotilla/{s.name}, newName: registry.example.com/flotilla/{s.name}, newTag: 0.1.0}}"
        for s in ss)),
    "deploy/k8s/overlays/prod/kustomization.yaml#replicas": ("  #", lambda ss: "\n".join(
        [f"  - {{name: {s.name}-api, count: 3}}" for s in ss]
        + [f"  - {{name: {s.name}-worker, count: 2}}" for s in ss if s.worker])),
    "deploy/k8s/components/migrations/kustomization.yaml": ("  #", _migrate_patches),
    "deploy/k8s/components/least-privilege/kustomization.yaml": ("  #", _account_patches),
    f"{_POLICIES}#gateway-to": ("        #", lambda ss: "\n".join(
        f"        - {_selector(s.name)[1:-1]}" for s in ss)),
    f"{_POLICIES}#gateway-ports": ("        #", lambda ss: "\n".join(
        f"        - {{protocol: TCP, port: {s.port}}}" for s in ss)),
    "pyproject.toml": ("#", lambda ss: "known-first-party = [\"flotilla\", \"gateway\", "
                       + ", ".join(f'"{s.name}"' for s in ss) + "]"),
}
WHOLE: dict[str, Callable[[list[Service]], str]] = {
    "shared/flotilla/services_list.py": _services_list,
}


def _k8s(kind: str) -> Callable[[list[Service]], dict[str, str]]:
    def make(services: list[Service]) -> dict[str, str]:
        template = string.Template((ROOT / "deploy/k8s/templates" / f"{kind}.yaml").read_text())
        head = f"# Generated from deploy/k8s/templates/{kind}.yaml by `make generate`: do not edit.\n"
        body = lambda s: template.substitute(name=s.name, NAME=s.name.upper(), port=s.port)  # noqa: E731
        return {f"deploy/k8s/base/{s.name}/{kind}.yaml": head + body(s).split("(decision 0075).\n", 1)[1]
                for s in services if kind == "api" or s.worker}
    return make


_K8S_KUSTOMIZATION = """\
# {name}: the api (Deployment + Service "{name}" + HPA + PDB) and the worker
# (Deployment + PDB), from deploy/k8s/templates. Patches for what {name} needs beyond
# the template go here (see users/kustomization.yaml).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - api.yaml
{worker}"""


def _dockerfiles(services: list[Service]) -> dict[str, str]:
    # its first three lines speak of the template itself
    template = "".join((ROOT / "deploy/docker/service.Dockerfile").read_text().splitlines(True)[3:])
    head = "# Generated from deploy/docker/service.Dockerfile by `make generate`: do not edit.\n"
    return {f"services/{s.name}/Dockerfile": head + template.replace("@NAME@", s.name.upper())
            .replace("@name@", s.name).replace("@port@", str(s.port)) for s in services}


_MIGRATIONS_HEAD = """\
# Generated from deploy/templates/k8s/migrate.yaml by `make generate`: do not edit.
# Each service's migrations, once per release (not by every replica): `<svc> migrate`
# (deploy/docker/entrypoint.sh). A Job's template cannot change, so a release deletes the
# finished Job before applying (README, Deploy); finished Jobs are removed after a day.
"""


def _migrations(services: list[Service]) -> dict[str, str]:
    """deploy/k8s/components/migrations/jobs.yaml: a Job, ServiceAccount and NetworkPolicy
    per service, from one template."""
    text = (ROOT / "deploy/templates/k8s/migrate.yaml").read_text()
    template = string.Template(text.split("(decision 0075).\n", 1)[1])
    body = "---\n".join(template.substitute(name=s.name, NAME=s.name.upper()) for s in services)
    return {"deploy/k8s/components/migrations/jobs.yaml": _MIGRATIONS_HEAD + body}


def _template(path: str) -> string.Template:
    """A template under deploy/templates/k8s/ without its own head (which ends at "(decision 0075).")."""
    return string.Template((ROOT / path).read_text().split("(decision 0075).\n", 1)[1])


LEAST_PRIVILEGE = "deploy/k8s/components/least-privilege/per-service.yaml"
SCALED_OBJECTS = "deploy/k8s/components/keda/scaledobjects.yaml"


def _least_privilege(services: list[Service]) -> dict[str, str]:
    """The least-privilege component's per-service part: each api's and worker's ServiceAccount
    and NetworkPolicy. An api admits the gateway, Prometheus and the apis that call it, and
    reaches its database, RabbitMQ and the apis it calls."""
    api, worker = (_template(f"deploy/templates/k8s/least-privilege-{r}.yaml") for r in ("api", "worker"))
    by_name = {s.name: s for s in services}
    docs = []
    for s in services:
        callers = [c.name for c in services if s.name in c.calls]
        ingress = (["    - from:", *(f"        - {_selector(c)[1:-1]}" for c in callers),
                    f"      ports: [{{protocol: TCP, port: {s.port}}}]"] if callers else [])
        egress = [line for c in s.calls for line in (
            f"    - to: [{_selector(c)}]", f"      ports: [{{protocol: TCP, port: {by_name[c].port}}}]")]
        text = api.substitute(name=s.name, port=s.port, callers="\n".join(ingress), callees="\n".join(egress))
        docs.append("".join(line for line in text.splitlines(True) if line.strip()))
        if s.worker:
            docs.append(worker.substitute(name=s.name))
    head = ("# Generated from deploy/templates/k8s/least-privilege-api.yaml and -worker.yaml by\n"
            "# `make generate`: do not edit. Each service's ServiceAccounts (no token) and\n"
            "# NetworkPolicies.\n")
    return {LEAST_PRIVILEGE: head + "---\n".join(docs)}


def _scaled_objects(services: list[Service]) -> dict[str, str]:
    """The keda component: a ScaledObject per worker, on its own queue's depth."""
    template = _template("deploy/templates/k8s/keda.yaml")
    head = ("# Generated from deploy/templates/k8s/keda.yaml by `make generate`: do not edit.\n"
            "# Each worker scales on its RabbitMQ queue's depth (kustomization.yaml).\n")
    body = "---\n".join(template.substitute(name=s.name) for s in services if s.worker)
    return {SCALED_OBJECTS: head + body}


#: Files generated per service: function of the list -> {path: content}.
PER_SERVICE: tuple[Callable[[list[Service]], dict[str, str]], ...] = (
    _k8s("api"), _k8s("worker"), _dockerfiles, _migrations, _least_privilege, _scaled_objects)


def _replace_block(text: str, tag: str, body: str, path: str) -> str:
    begin = BEGIN + (f"/{tag}" if tag else "")
    pattern = re.compile(
        rf"(^[ \t]*#[^\n]*{re.escape(begin)}[ \n][^\n]*\n?)(.*?)(^[ \t]*#[^\n]*{re.escape(END)})",
        re.S | re.M)
    if not pattern.search(text):
        raise ListError(f"{path}: no '# {begin}' ... '# {END}' block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text, count=1)


def rendered(root: Path = ROOT) -> dict[str, str]:
    """Every generated file's wanted content (path relative to ``root``)."""
    services = load(root)
    out = {path: make(services) for path, make in WHOLE.items()}
    for each in PER_SERVICE:
        out.update(each(services))
    for s in services:  # hand-owned after the first write (a service's own patches go there)
        kustomization = f"deploy/k8s/base/{s.name}/kustomization.yaml"
        if not (root / kustomization).exists():
            out[kustomization] = _K8S_KUSTOMIZATION.format(
                name=s.name, worker="  - worker.yaml\n" if s.worker else "")
    for key, (_, make) in BLOCKS.items():
        path, _, tag = key.partition("#")
        out[path] = _replace_block(out.get(path) or (root / path).read_text(), tag, make(services), path)
    return out


def stale(root: Path = ROOT) -> list[str]:
    return sorted(p for p, want in rendered(root).items()
                  if not (root / p).exists() or (root / p).read_text() != want)


def generate(root: Path = ROOT) -> list[str]:
    """Rewrite the stale files; returns their paths."""
    changed = []
    for path, want in rendered(root).items():
        target = root / path
        if not target.exists() or target.read_text() != want:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(want)
            changed.append(path)
    return sorted(changed)


#: Template files written only for a service with a worker.
WORKER_FILES = frozenset({"@name@/worker.py.tmpl"})
#: A template line that starts with one of these is kept (without it) only with / without a worker.
IF_WORKER, IF_NO_WORKER = "@worker@", "@no-worker@"


def scaffold(name: str, root: Path = ROOT, *, worker: bool = True) -> list[str]:
    """Write ``services/<name>/`` from the template (every ``*.tmpl`` file under
    ``deploy/templates/service/``, ``@name@`` / ``@Name@`` / ``@NAME@`` / ``@date@`` replaced in
    paths and text); returns the paths written. Refuses to touch an existing package.

    ``worker=False``: an api only, without :data:`WORKER_FILES` and the lines marked
    ``@worker@`` (those marked ``@no-worker@`` are kept instead)."""
    template = root / SERVICE_TEMPLATE
    target = root / "services" / name
    if target.exists():
        raise ListError(f"services/{name} exists already")
    words = {"@name@": name, "@Name@": name.capitalize(), "@NAME@": name.upper(),
             "@date@": date.today().isoformat()}

    first_party = re.compile(rf"^from (flotilla|{name})[. ]")

    def lines_for_worker(text: str) -> str:
        keep, drop = (IF_WORKER, IF_NO_WORKER) if worker else (IF_NO_WORKER, IF_WORKER)
        return "".join(line.removeprefix(keep) for line in text.splitlines(True)
                       if not line.startswith(drop))

    def fill(text: str) -> str:
        for word, value in words.items():
            text = text.replace(word, value)
        return text

    def sort_imports(text: str) -> str:
        """The kit's and the service's imports share a section: order them by module, as ruff does."""
        lines, out = text.split("\n"), []
        while lines:
            run = []
            while lines and first_party.match(lines[0]):
                run.append(lines.pop(0))
            out += sorted(run, key=lambda line: line.split()[1]) if run else [lines.pop(0)]
        return "\n".join(out)

    written = []
    for source in sorted(template.rglob("*.tmpl")):
        relative = str(source.relative_to(template))
        if not worker and relative in WORKER_FILES:
            continue
        path = target / fill(relative.removesuffix(".tmpl"))
        path.parent.mkdir(parents=True, exist_ok=True)
        text = fill(lines_for_worker(source.read_text()))
        path.write_text(sort_imports(text) if path.suffix == ".py" else text)
        written.append(str(path.relative_to(root)))
    return written


def add_service(name: str, root: Path = ROOT, port: int | None = None, worker: bool = True,
                routes: dict[str, float] | None = None) -> Service:
    """Append a service to services.toml (next free ports, route ``/<name>``), write its package
    from the template and regenerate. The list is checked before anything is written, so a clash
    leaves every file as it was."""
    services = load(root)
    if any(s.name == name for s in services):
        raise ListError(f"{name} is already in {LIST_FILE}")
    if (root / "services" / name).exists():
        raise ListError(f"services/{name} exists already")
    port = port or max([8080, *(s.port for s in services)]) + 1
    routes = routes if routes is not None else {f"/{name}": 5.0}
    entry = [f"\n[services.{name}]", f"port = {port}"]
    if worker:
        entry.append(f"worker_port = {port + 1000}")
    entry.append(f'database = "{name}"')
    entry.append("routes = { " + ", ".join(f'"{p}" = {t}' for p, t in routes.items()) + " }")
    if any(s.name == "users" for s in services):  # its api checks tokens against users' JWKS
        entry.append('calls = ["users"]')
    text = (root / LIST_FILE).read_text().rstrip("\n") + "\n" + "\n".join(entry) + "\n"
    scratch = root / f".{LIST_FILE}.new"
    scratch.write_text(text)
    try:
        tomllib.loads(text)
        (root / LIST_FILE).replace(root / f".{LIST_FILE}.old")
        scratch.replace(root / LIST_FILE)
        try:
            added = next(s for s in load(root) if s.name == name)
        except ListError:
            (root / f".{LIST_FILE}.old").replace(root / LIST_FILE)
            raise
        (root / f".{LIST_FILE}.old").unlink()
    finally:
        scratch.unlink(missing_ok=True)
    scaffold(name, root, worker=worker)
    generate(root)
    return added


def has_seed_command(package: str) -> bool:
    """Whether the installed service package's ``cli.py`` registers a ``seed`` command, read from
    its source (found without importing the package: make run starts no Python per service)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return False
    cli = Path(next(iter(spec.submodule_search_locations))) / "cli.py"
    return cli.is_file() and 'command("seed")' in cli.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flotilla.platform")
    parser.add_argument("command", choices=["generate", "check", "services", "names", "seeds", "add"])
    parser.add_argument("name", nargs="?", help="add: the new service's name")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--port", type=int, help="add: the api port (default: the next free one)")
    parser.add_argument("--no-worker", action="store_true",
                        help="add: an api only (no worker_port, worker files, Procfile line, Deployment)")
    args = parser.parse_args(argv)
    if args.command == "add":
        if not args.name:
            parser.error("add needs a service name")
        try:
            s = add_service(args.name, args.root, args.port, worker=not args.no_worker)
        except ListError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"added {s.name}: port {s.port}, worker {s.worker_port or '-'}, routes {' '.join(s.routes)}")
        return 0
    if args.command == "names":
        print(" ".join(s.name for s in load(args.root)))
        return 0
    if args.command == "seeds":  # make run: migrate each, seed those with a seed command
        for s in load(args.root):
            print(s.name, "seed" if has_seed_command(s.name) else "-")
        return 0
    if args.command == "services":
        for s in load(args.root):
            print(s.name, s.port, s.worker_port or "-", s.database, " ".join(s.routes))
        return 0
    if args.command == "check":
        found = stale(args.root)
        for path in found:
            print(f"stale: {path} (run make generate)", file=sys.stderr)
        return 1 if found else 0
    for path in generate(args.root):
        print(f"generated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
