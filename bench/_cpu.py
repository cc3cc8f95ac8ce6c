"""CPU time of a process tree from /proc (utime + stime, the process and its descendants).

A gunicorn tier is a master and its workers: summing them while a load runs gives CPU per
request, a figure far steadier on a shared machine than requests per second.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant alive now."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children(current)
    return out


def seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds (processes gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICK


def rss_mib(pids: list[int]) -> float:
    """Resident memory of these processes, in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def pss_mib(pids: list[int]) -> float:
    """Proportional set size of these processes, in MiB (shared pages split between their
    users, so a process tree's figure is not inflated by the pages its workers share);
    falls back to VmRSS where ``smaps_rollup`` cannot be read."""
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
                    break
        except OSError:
            total += rss_mib([pid])
    return total


def utilisation(cpu_seconds: float, wall_seconds: float) -> float:
    """CPU seconds as a fraction of the machine's capacity over ``wall_seconds``."""
    return cpu_seconds / max(wall_seconds * (os.cpu_count() or 1), 1e-9)


class Meter:
    """CPU seconds of named process trees over an interval: ``start()``, then ``stop()``.

    The trees are walked at both ends, so a process born meanwhile (a PostgreSQL backend, a
    restarted worker) counts all its CPU; one that exited meanwhile loses what it had used.
    """

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._before: dict[str, dict[int, float]] = {}

    @staticmethod
    def _each(pids: list[int]) -> dict[int, float]:
        return {pid: seconds([pid]) for pid in pids}

    def start(self) -> Meter:
        self._before = {name: self._each(tree(pid)) for name, pid in self.roots.items()}
        return self

    def stop(self) -> dict[str, float]:
        used = {}
        for name, pid in self.roots.items():
            now = self._each(tree(pid))
            before = self._before.get(name, {})
            used[name] = sum(max(0.0, s - before.get(p, 0.0)) for p, s in now.items())
        return used


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat: the busy share
    over an interval shows whether any core was left for more server processes (other work
    on a shared machine counts too)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The machine's busy fraction between two ``machine_ticks()`` readings."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1)
