"""``make run``'s readiness report: polls every process until the platform is ready,
then prints one table (process, URL, ready or not) and the commands to try.

Started in the background by scripts/run.sh once honcho runs; ports come from the same
environment variables the Procfile reads. ``python -m flotilla.runner --once`` prints the
table for a running platform and exits 0 when everything is ready, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from flotilla.services_list import PORTS, WORKER_PORTS


@dataclass(frozen=True)
class Check:
    name: str
    url: str
    #: An HTTP URL polled for 200, or ``tcp://host:port`` for a port that accepts connections.
    probe: str


def checks(env: os._Environ[str] | dict[str, str] = os.environ) -> list[Check]:
    """Every process ``make run`` starts, with where it answers."""
    out: list[Check] = []
    for svc, port in PORTS.items():
        p = env.get(f"{svc.upper()}_PORT", str(port))
        out.append(Check(svc, f"http://127.0.0.1:{p}", f"http://127.0.0.1:{p}/health/ready"))
    for svc, port in WORKER_PORTS.items():
        p = env.get(f"{svc.upper()}_WORKER_PORT", str(port))
        out.append(Check(f"{svc}-worker", f"http://127.0.0.1:{p}/metrics",
                         f"http://127.0.0.1:{p}/health/ready"))
    gw = env.get("GATEWAY_PORT", "8080")
    out.append(Check("gateway", f"http://127.0.0.1:{gw}/health", f"http://127.0.0.1:{gw}/health/ready"))
    # The operator console (admins; not on the edge): ready when its login page renders.
    out.append(Check("console", f"http://127.0.0.1:{gw}/console/", f"http://127.0.0.1:{gw}/console/login"))
    edge = env.get("EDGE_HTTP_PORT", "8000")
    tls = env.get("EDGE_HTTPS_PORT", "8443")
    out.append(Check("edge (nginx)", f"http://127.0.0.1:{edge}  https://localhost:{tls}",
                     f"http://127.0.0.1:{edge}/api/v1/products?limit=1"))
    amqp = env.get("RABBITMQ_PORT", "5672")
    out.append(Check("rabbitmq", f"amqp://127.0.0.1:{amqp}", f"tcp://127.0.0.1:{amqp}"))
    redis = env.get("REDIS_PORT", "6379")
    out.append(Check("redis", f"redis://127.0.0.1:{redis}", f"tcp://127.0.0.1:{redis}"))
    if env.get("PROMETHEUS_PORT"):
        prom = env["PROMETHEUS_PORT"]
        out.append(Check("prometheus", f"http://127.0.0.1:{prom}", f"http://127.0.0.1:{prom}/-/ready"))
    return out


def probe(check: Check, timeout: float = 1.0) -> tuple[bool, str]:
    """(ready, why not) for one process."""
    if check.probe.startswith("tcp://"):
        host, _, port = check.probe[len("tcp://"):].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return True, ""
        except OSError as exc:
            return False, type(exc).__name__
    try:
        with urllib.request.urlopen(check.probe, timeout=timeout) as response:  # noqa: S310
            return response.status == 200, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        return False, reason if isinstance(reason, str) else type(reason).__name__
    except (OSError, ValueError) as exc:
        return False, type(exc).__name__


def table(results: list[tuple[Check, bool, str]]) -> str:
    width = max(len(c.name) for c, _, _ in results)
    url_width = max(len(c.url) for c, _, _ in results)
    lines = [f"  {'process'.ljust(width)}  {'address'.ljust(url_width)}  state"]
    for check, ok, why in results:
        state = "ready" if ok else f"NOT READY ({why})"
        lines.append(f"  {check.name.ljust(width)}  {check.url.ljust(url_width)}  {state}")
    return "\n".join(lines)


def try_commands(env: os._Environ[str] | dict[str, str] = os.environ) -> str:
    users = env.get("USERS_PORT", "8081")
    edge = env.get("EDGE_HTTP_PORT", "8000")
    gw = env.get("GATEWAY_PORT", "8080")
    email = env.get("FLOTILLA_ADMIN_EMAIL", "admin@flotilla.local")
    password = env.get("FLOTILLA_ADMIN_PASSWORD", "flotilla-dev-admin")
    return f"""Try (README "Try it" has more):
  curl http://127.0.0.1:{edge}/api/v1/products?limit=3
  TOKEN=$(curl -s -X POST http://127.0.0.1:{users}/auth/login -H 'Content-Type: application/json' \\
      -d '{{"email": "{email}", "password": "{password}"}}' \\
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  curl -s http://127.0.0.1:{users}/users/me -H "Authorization: Bearer $TOKEN"
  Swagger UI: http://127.0.0.1:{edge}/docs
  Operator console: http://127.0.0.1:{gw}/console/ (log in as the admin below)
Admin (development): {email} / {password}.  Ctrl-C stops everything."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flotilla.runner")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("RUN_READY_TIMEOUT", "90")))
    parser.add_argument("--once", action="store_true", help="check once, print the table, exit")
    args = parser.parse_args(argv)
    all_checks = checks()
    deadline = time.monotonic() + (0 if args.once else args.timeout)
    last_report = time.monotonic()
    while True:
        results = [(c, *probe(c)) for c in all_checks]
        waiting = [c.name for c, ok, _ in results if not ok]
        if not waiting or time.monotonic() >= deadline:
            break
        if time.monotonic() - last_report >= 10:
            print(f"[ready] waiting for: {', '.join(waiting)}", flush=True)
            last_report = time.monotonic()
        time.sleep(0.5)
    bar = "=" * 72
    if waiting:
        head = f"Flotilla is NOT ready: {', '.join(waiting)} not ready (see their log lines above)"
    else:
        head = "Flotilla is ready"
    print(f"\n{bar}\n{head}\n{table(results)}\n\n{try_commands()}\n{bar}\n", flush=True)
    return 1 if waiting else 0


if __name__ == "__main__":
    sys.exit(main())
