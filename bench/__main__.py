"""``python -m bench [NAME ...]``: run every benchmark module in this folder (or the named ones).

Each module exposes ``main()``, prints its own table of figures and ratios, and may return a
dict of figures: those go, with a description of the machine, to
``bench/results/<timestamp>.json`` and into the "Latest figures" section of
``docs/performance.md``.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import _goals

HERE = Path(__file__).parent
PERFORMANCE = HERE.parent / "docs" / "performance.md"
BEGIN, END = "<!-- BEGIN latest bench figures -->", "<!-- END latest bench figures -->"


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "missing"


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split()
    models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
              if line.startswith("model name")]
    try:
        from flotilla.testing.postgres import find_bindir

        postgres = _version([str(find_bindir() / "postgres"), "--version"])
    except Exception:  # no PostgreSQL: the saga and relay benchmarks say so themselves
        postgres = "missing"
    return {"cores": os.cpu_count(), "cpu": models[0] if models else platform.machine(),
            "memory_gib": round(int(meminfo[1]) / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "nginx": _version(["nginx", "-v"]), "postgresql": postgres,
            "rabbitmq": _version(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"]),
            "wrk": _version(["wrk", "--version"]),
            "load_average_at_start": os.getloadavg()}


def markdown(results: dict[str, Any], stamp: str) -> str:
    described = json.dumps(results["machine"])
    lines = [BEGIN, f"Run {stamp} (`make bench` or `make bench-quick`), machine: `{described}`", ""]
    for name, figures in results["benchmarks"].items():
        shown = json.dumps(figures, indent=1, sort_keys=True)
        lines += [f"**bench.{name}**", "", "```json", shown, "```", ""]
    lines.append(END)
    return "\n".join(lines)


def _write(results: dict[str, Any], results_dir: Path, document: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results_dir / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if document.exists():
        text = document.read_text()  # read just before writing: the file has other authors
        if BEGIN in text:
            text = _goals.replace_block(text, BEGIN, END, markdown(results, stamp))
        if _goals.BEGIN in text:
            text = _goals.replace_block(text, _goals.BEGIN, _goals.END,
                                        _goals.markdown(results_dir, text, results["machine"]))
        document.write_text(text)
    return out


def main(argv: list[str]) -> int:
    """Run the named modules (default: every one); figures to ``BENCH_RESULTS_DIR`` (bench/results)
    and ``BENCH_DOCUMENT`` (docs/performance.md). Non-zero when a module failed."""
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                           if not m.name.startswith("_") and not m.ispkg)
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR", HERE / "results"))
    document = Path(os.environ.get("BENCH_DOCUMENT", PERFORMANCE))
    results: dict[str, Any] = {"machine": machine(), "benchmarks": {}, "failed": {}, "seconds": {}}
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        try:
            figures = importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            results["failed"][name] = f"{type(exc).__name__}: {exc}"[:2000]
            figures = None
        results["seconds"][name] = round(time.monotonic() - started, 1)
        if isinstance(figures, dict):
            results["benchmarks"][name] = figures
    if results["benchmarks"]:
        out = _write(results, results_dir, document)
        print(f"\nfigures written to {out} and {document}")
    for name, error in results["failed"].items():
        print(f"bench.{name} FAILED: {error}", file=sys.stderr)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
