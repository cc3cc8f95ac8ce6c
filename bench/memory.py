"""Resident memory of the whole platform as ``make run`` starts it, idle and under load.

``scripts/run.sh`` and the Procfile are copied to a temporary root (its own var/, every port a
free one, as deploy/tests/test_readme.py does), started, and measured once flotilla.runner
prints its "ready" table: the proportional set size (PSS, shared pages split between the
processes sharing them; VmRSS where smaps_rollup cannot be read) summed over every process
honcho started except RabbitMQ's, per Procfile entry. Idle after BENCH_MEMORY_SETTLE seconds
(default 5), then the peak of one-second samples while wrk reads a product through nginx and
the gateway for BENCH_SECONDS (default 10; the edge and gateway rate limits raised out of
the way). Goal of the performance issue: at most 800 MiB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import _cpu
from bench._load import wrk
from flotilla.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
SETTLE = float(os.environ.get("BENCH_MEMORY_SETTLE", "5"))
GOAL_MIB = 800
PORT_VARIABLES = ("EDGE_HTTP_PORT", "EDGE_HTTPS_PORT", "GATEWAY_PORT", "USERS_PORT", "CATALOG_PORT",
                  "ORDERS_PORT", "USERS_WORKER_PORT", "CATALOG_WORKER_PORT", "ORDERS_WORKER_PORT",
                  "RABBITMQ_PORT", "REDIS_PORT", "PROMETHEUS_PORT")
EXCLUDED = {"rabbitmq"}


def _procfile_names(procfile: Path) -> dict[str, str]:
    """Procfile entry -> its command."""
    out = {}
    for line in procfile.read_text().splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            name, command = line.split(":", 1)
            out[name.strip()] = command.strip()
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _entries(root: int, commands: dict[str, str]) -> dict[str, list[int]]:
    """Each Procfile entry's process tree (honcho runs every entry under its own shell, whose
    command line is the entry's command); what is left is the supervisor (honcho, run.sh)."""
    found: dict[str, list[int]] = {}
    claimed: set[int] = set()
    for pid in _cpu.tree(root):  # parents come before their children
        if pid in claimed:
            continue
        line = _cmdline(pid)
        name = next((n for n, command in commands.items() if command in line), None)
        if name is None:
            found.setdefault("supervisor (honcho)", []).append(pid)
            continue
        subtree = _cpu.tree(pid)
        claimed.update(subtree)
        found.setdefault(name, []).extend(subtree)
    return found


def _rollup(pid: int) -> dict[str, float]:
    """One process's PSS, USS (private clean + dirty) and RSS, in MiB (empty if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    kib: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            kib[key] = int(rest.split()[0])
    uss = kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)
    return {"pss": round(kib.get("Pss", 0) / 1024, 1), "uss": round(uss / 1024, 1),
            "rss": round(kib.get("Rss", 0) / 1024, 1)}


def _detail(honcho: int, commands: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Per Procfile entry, each process's PSS/USS/RSS (which of a gunicorn's is the master:
    the first, its parent shell aside)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, pids in sorted(_entries(honcho, commands).items()):
        if name in EXCLUDED:
            continue
        rows = [{"pid": pid, "cmd": _cmdline(pid)[:60], **_rollup(pid)} for pid in pids]
        out[name] = [row for row in rows if "pss" in row]
    return out


def _sample(honcho: int, commands: dict[str, str]) -> dict[str, float]:
    per = {name: _cpu.pss_mib(pids) for name, pids in _entries(honcho, commands).items()
           if name not in EXCLUDED}
    return {name: round(mib, 1) for name, mib in sorted(per.items())}


def main() -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copy(ROOT / "Procfile", root / "Procfile")
    (root / ".venv").symlink_to(ROOT / ".venv")
    (root / "deploy").symlink_to(ROOT / "deploy")
    ports = {variable: free_port() for variable in PORT_VARIABLES}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "RABBITMQ_NODENAME": f"bench{ports['RABBITMQ_PORT']}@localhost", "RUN_READY_TIMEOUT": "100",
           "EDGE_RATE_LIMIT": "1000000", "EDGE_BURST": "1000000", "GATEWAY_RATE_LIMIT": "1000000000/minute",
           "LOG_LEVEL": "WARNING"}
    env.pop("AMQP_URL", None)
    env.pop("REDIS_URL", None)
    commands = _procfile_names(root / "Procfile")
    log_path = root / "run.log"
    log = log_path.open("w+")
    proc = subprocess.Popen(["scripts/run.sh"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        output = ""
        while time.monotonic() < deadline and proc.poll() is None:
            output = log_path.read_text(errors="replace")
            if "Flotilla is ready" in output or "Flotilla is NOT ready" in output:
                break
            time.sleep(1)
        if "Flotilla is ready" not in output:
            raise RuntimeError(f"the platform did not start (run.sh {proc.poll()}):\n{output[-4000:]}")
        time.sleep(SETTLE)
        idle = _sample(proc.pid, commands)
        idle_detail = _detail(proc.pid, commands)
        catalog = f"http://127.0.0.1:{ports['CATALOG_PORT']}"
        with urllib.request.urlopen(catalog + "/products?limit=1") as resp:  # noqa: S310
            items = json.load(resp)["items"]
        edge = f"http://127.0.0.1:{ports['EDGE_HTTP_PORT']}/api/v1/products"
        url = f"{edge}/{items[0]['id']}" if items else f"{edge}?limit=20"  # else the listing
        peak: dict[str, float] = {}
        peak_total = 0.0
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def load() -> None:
            try:
                outcome["result"] = wrk(url, seconds=SECONDS)
            finally:
                done.set()

        threading.Thread(target=load, daemon=True).start()
        while not done.wait(1.0):
            sample = _sample(proc.pid, commands)
            if sum(sample.values()) > peak_total:
                peak, peak_total = sample, sum(sample.values())
        result = outcome.get("result")
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
    idle_total, load_total = round(sum(idle.values()), 1), round(peak_total, 1)
    print(f"platform as make run starts it, without RabbitMQ: PSS MiB (goal <= {GOAL_MIB})")
    print(f"{'process':<22} {'idle':>7} {'load':>7}")
    for name in sorted(set(idle) | set(peak)):
        print(f"{name:<22} {idle.get(name, 0.0):>7.1f} {peak.get(name, 0.0):>7.1f}")
    print(f"{'total':<22} {idle_total:>7.1f} {load_total:>7.1f}")
    print(f"{'idle, per process':<32} {'pss':>7} {'uss':>7} {'rss':>7}")
    for name, rows in idle_detail.items():
        for row in rows:
            label = f"{name} {row['pid']}"
            print(f"{label:<32} {row['pss']:>7.1f} {row['uss']:>7.1f} {row['rss']:>7.1f}  {row['cmd'][:40]}")
    if result is not None:
        print(f"load: wrk -t2 -c16 {SECONDS}s through nginx + gateway, "
              f"{result.requests_per_second:.0f} req/s, {result.non_2xx} non-2xx")
    return {"idle_mib": idle_total, "load_mib": load_total, "idle_by_process": idle, "load_by_process": peak,
            "idle_per_pid": idle_detail,
            "load_req_s": round(result.requests_per_second) if result else None,
            "load_non_2xx": result.non_2xx if result else None, "measure": "PSS"}
