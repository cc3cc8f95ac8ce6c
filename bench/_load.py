"""Load generation with wrk (Debian's package), parsed into numbers."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int = 0
    client_cpu_s: float = 0.0  # wrk's own CPU: a client-bound run shows here


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"wrk printed a latency this parser does not know: {text!r}")
    value, unit = found.groups()
    return float(value) * _UNITS[unit]


def _percentile(out: str, which: int) -> float:
    """A line of wrk's latency distribution (``    50%  635.91us``); NaN when it printed none
    (a run that completed no request, such as a warm-up against a server still starting)."""
    found = re.search(rf"^\s*{which}%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M)
    return _ms(found.group(1)) if found else float("nan")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, seconds: float = 5, connections: int = 16, threads: int = 2,
        headers: dict[str, str] | None = None) -> LoadResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install wrk (make bench installs it)")
    extra = [arg for key, value in (headers or {}).items() for arg in ("-H", f"{key}: {value}")]
    before = _children_cpu()
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
                          *extra, url], check=True, capture_output=True, text=True).stdout
    client_cpu = _children_cpu() - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p99 = _percentile(out, 50), _percentile(out, 99)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return LoadResult(rps, p50, p99, int(bad.group(1)) if bad else 0, total, client_cpu)
