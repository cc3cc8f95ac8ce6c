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
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PERFORMANCE = HERE.parent / "docs" / "performance.md"
BEGIN, END = "<!-- BEGIN latest bench figures -->", "<!-- END latest bench figures -->"


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split()
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return {"cores": os.cpu_count(), "memory_gib": round(int(meminfo[1]) / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release(), "nginx": nginx,
            "load_average_at_start": os.getloadavg()}


def markdown(results: dict[str, Any], stamp: str) -> str:
    described = json.dumps(results["machine"])
    lines = [BEGIN, f"Run {stamp} (`make bench` or `make bench-quick`), machine: `{described}`", ""]
    for name, figures in results["benchmarks"].items():
        shown = json.dumps(figures, indent=1, sort_keys=True)
        lines += [f"**bench.{name}**", "", "```json", shown, "```", ""]
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))
    results: dict[str, Any] = {"machine": machine(), "benchmarks": {}}
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        figures = importlib.import_module(f"bench.{name}").main()
        if isinstance(figures, dict):
            results["benchmarks"][name] = figures
    if results["benchmarks"]:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out = HERE / "results" / f"{stamp}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        if PERFORMANCE.exists() and BEGIN in PERFORMANCE.read_text():
            text = PERFORMANCE.read_text()
            head, rest = text.split(BEGIN, 1)
            PERFORMANCE.write_text(head + markdown(results, stamp) + rest.split(END, 1)[1])
        root = HERE.parent
        print(f"\nfigures written to {out.relative_to(root)} and {PERFORMANCE.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
