"""The goals table of the performance issue, filled from the newest figures in bench/results/.

Each goal names the benchmark module whose figures decide it. A module's figures are taken
from the newest results file that has them (``make bench-quick`` refreshes the tier rows only,
so every row says which run it comes from and that run's load average at its start). A missed
goal points at its finding in the "What the profiles showed" section of docs/performance.md,
or says that none is written there yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- BEGIN goals table -->", "<!-- END goals table -->"
PROFILES_HEADING = "## What the profiles showed"
MET, MISSED, REPORTED = "met", "**missed**", "reported"

Figures = dict[str, Any]
Judge = Callable[[Figures], tuple[str, str]]


@dataclass(frozen=True)
class Goal:
    figure: str
    goal: str
    module: str
    judge: Judge  # figures -> (the latest figure, as text; the verdict)
    profile: tuple[str, ...]  # words a finding's heading in "What the profiles showed" contains


def _verdict(ok: bool) -> str:
    return MET if ok else MISSED


def _cpu(run: Figures, tier: str) -> float:
    return float(run["cpu_ms_per_req"][tier])


def _item(f: Figures) -> tuple[str, str]:
    r, runs = f["ratios"]["catalog item / floor"], f["runs"]
    return (f"{r:.2f}x the floor ({_cpu(runs['catalog item'], 'catalog'):.3f} ms vs "
            f"{_cpu(runs['floor'], 'floor'):.3f} ms; "
            f"wrk {runs['catalog item']['wrk_cpu_ms_per_req']:.3f} ms)",
            _verdict(r <= 2.0))


def _list(f: Figures) -> tuple[str, str]:
    r, runs = f["ratios"]["catalog list / floor"], f["runs"]
    return f"{r:.2f}x the floor ({_cpu(runs['catalog list'], 'catalog'):.3f} ms)", _verdict(r <= 3.0)


def _gateway(f: Figures) -> tuple[str, str]:
    gc, gf = f["ratios"]["gateway / catalog item"], f["ratios"]["gateway / floor"]
    ms = _cpu(f["runs"]["edge+gateway item, token"], "gateway")
    return (f"{gc:.2f}x catalog's read, {gf:.2f}x the floor ({ms:.3f} ms)",
            _verdict(gc <= 0.6 and gf <= 1.5))


def _throughput(f: Figures) -> tuple[str, str]:
    r, runs = f["ratios"]["edge+gateway / direct throughput"], f["runs"]
    return (f"{r:.2f} ({runs['edge+gateway item']['req_s']} vs {runs['catalog item']['req_s']} req/s)",
            _verdict(r >= 0.60))


def _latency(f: Figures) -> tuple[str, str]:
    added, fixed = f["gateway_adds_ms"], f["fixed_rate"]
    return (f"p50 {added['p50']:+.2f} ms, p99 {added['p99']:+.2f} ms at {fixed['offered_req_s']} req/s "
            f"(generator {fixed['gateway']['generator_cpu_ms_per_req']:.3f} ms/req)",
            _verdict(added["p50"] <= 1.5 and added["p99"] <= 5.0))


def _saga_cpu(f: Figures) -> tuple[str, str]:
    parts = [f"{kind}: {run['cpu_ms_per_confirmed']:.1f} ms" for kind, run in f.items() if kind != "failed"]
    parts += [f"{kind}: failed" for kind in f.get("failed", {})]
    sqlite = f.get("sqlite")
    return "; ".join(parts), (REPORTED if sqlite is None else _verdict(sqlite["cpu_ms_per_confirmed"] <= 12))


def _saga_text(run: Figures) -> str:
    return (f"{run['confirmed_pct']:.1f} % confirmed, p50 {run['confirmed_p50_ms']:.0f} ms, "
            f"p99 {run['confirmed_p99_ms']:.0f} ms ({run['offered_per_s']:g}/s for {run['seconds']:g} s; "
            f"client {run['client_cpu_ms_per_order']:.2f} ms/order)")


def _saga_failed(f: Figures, kind: str) -> tuple[str, str] | None:
    if kind in f.get("failed", {}):
        return f"the run failed: {f['failed'][kind][:200]}", MISSED
    return None


def _saga_sqlite(f: Figures) -> tuple[str, str]:
    if failed := _saga_failed(f, "sqlite"):
        return failed
    run = f["sqlite"]
    ok = run["confirmed_pct"] >= 99 and run["confirmed_p50_ms"] <= 60 and run["confirmed_p99_ms"] <= 300
    return _saga_text(run), _verdict(ok)


def _saga_postgresql(f: Figures) -> tuple[str, str]:
    return _saga_failed(f, "postgresql") or (_saga_text(f["postgresql"]), REPORTED)


def _scaling(pair: str) -> Judge:
    def judge(f: Figures) -> tuple[str, str]:
        p = f["pairs"][pair]
        said = p["verdict"]
        verdict = MET if said == "met" else MISSED if said.startswith("missed") else said
        note = " (machine saturated)" if p["machine_saturated"] else ""
        return (f"x{p['throughput_ratio']:.2f} throughput, x{p['cpu_per_req_ratio']:.2f} CPU per "
                f"request{note}", verdict)
    return judge


def _relay(db: str, goal: float) -> Judge:
    def judge(f: Figures) -> tuple[str, str]:
        r = f["ratios"][f"relay {db} / plain"]
        floor = "the 0.5 floor met" if r >= 0.5 else "below the 0.5 floor"
        return (f"{r:.2f} ({f['events_per_s'][f'outbox relay, {db}']} vs "
                f"{f['events_per_s']['plain pika, no confirms']} events/s; {floor})", _verdict(r >= goal))
    return judge


def _memory(f: Figures) -> tuple[str, str]:
    return (f"idle {f['idle_mib']:.0f} MiB, under load {f['load_mib']:.0f} MiB ({f['measure']})",
            _verdict(f["idle_mib"] <= 800 and f["load_mib"] <= 800))


def _tracing(f: Figures) -> tuple[str, str]:
    r, per = f["ratios"], f["cpu_ms_per_req"]
    return (f"off {r['off / not installed']:.3f}x, on {r['on / not installed']:.3f}x "
            f"({per['not installed']:.3f} / {per['off']:.3f} / {per['on']:.3f} ms)",
            _verdict(r["off / not installed"] <= 1.02))


GATEWAY = ("gateway, proxied",)  # the gateway's own findings, not others that name it
GOALS = [
    Goal("catalog `GET /products/{id}`, CPU per request", "≤ 2x the floor measured in the same run",
         "tiers", _item, ("catalog item read",)),
    Goal("catalog `GET /products?limit=20`", "≤ 3x the floor", "tiers", _list, ("catalog listing",)),
    Goal("gateway CPU per proxied request, token checked, rate limit and metrics on",
         "≤ 0.6x catalog's per item read, and ≤ 1.5x the floor", "tiers", _gateway, GATEWAY),
    Goal("throughput nginx + gateway / direct, item read", "≥ 0.60", "tiers", _throughput, GATEWAY),
    Goal("latency the gateway adds at half its saturation rate", "p50 ≤ 1.5 ms, p99 ≤ 5 ms",
         "edge_gateway", _latency, GATEWAY),
    Goal("saga CPU per confirmed order, all processes", "≤ 12 ms (SQLite)", "orders_saga", _saga_cpu,
         ("saga",)),
    Goal("saga at a fixed offered 100 orders/s for 30 s, SQLite",
         "≥ 99 % confirmed, placed → confirmed p50 ≤ 60 ms, p99 ≤ 300 ms", "orders_saga", _saga_sqlite,
         ("saga",)),
    Goal("the same on PostgreSQL", "reported next to SQLite", "orders_saga", _saga_postgresql, ("saga",)),
    Goal("1 → 2 catalog workers", "≥ 1.6x while the load generator is not the bottleneck; CPU per "
         "request constant", "scaling", _scaling("catalog 1 -> 2 workers"), ("scaling", "worker")),
    Goal("1 → 2 catalog instances behind the gateway", "≥ 1.6x, CPU per request constant", "scaling",
         _scaling("catalog 1 -> 2 instances behind the gateway"), ("scaling", "instance")),
    Goal("outbox relay with confirms / plain pika without confirms, SQLite", "≥ 0.5 (keep ≥ 1.9)",
         "relay_confirms", _relay("SQLite", 1.9), ("relay", "outbox")),
    Goal("the same, PostgreSQL", "≥ 0.5 (0.87 → ≥ 1.5)", "relay_confirms", _relay("PostgreSQL", 1.5),
         ("relay", "outbox")),
    Goal("resident memory of the whole platform under `make run`, idle and under load",
         "≤ 800 MiB without RabbitMQ", "memory", _memory, ("memory",)),
    Goal("tracing off (endpoint unset) vs hooks not installed, CPU per item read; tracing on",
         "off ≤ 1.02x; on reported", "tracing", _tracing, ("tracing",)),
]


def newest(results_dir: Path) -> dict[str, tuple[str, Figures, Figures]]:
    """module -> (run stamp, its figures, that run's machine) from the newest file that has it."""
    found: dict[str, tuple[str, Figures, Figures]] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            run = json.loads(path.read_text())
        except ValueError:
            continue
        for module, figures in run.get("benchmarks", {}).items():
            if isinstance(figures, dict):
                found[module] = (path.stem, figures, run.get("machine", {}))
    return found


def _findings(document: str) -> list[str]:
    """The bold headings of the "What the profiles showed" section."""
    if PROFILES_HEADING not in document:
        return []
    section = re.split(r"\n## ", document.split(PROFILES_HEADING, 1)[1], maxsplit=1)[0]
    return re.findall(r"^\*\*(.+?)\*\*", section, re.M)


def _pointer(goal: Goal, findings: list[str]) -> str:
    """The newest finding (the section is written in order) whose heading names the goal's part."""
    for heading in reversed(findings):
        if any(word in heading.lower() for word in goal.profile):
            return f"[profile: {heading}](#what-the-profiles-showed)"
    return "no profile finding written yet ([profiles](#what-the-profiles-showed))"


def rows(results_dir: Path, document: str) -> list[dict[str, str]]:
    latest, findings = newest(results_dir), _findings(document)
    out = []
    for goal in GOALS:
        row = {"figure": goal.figure, "goal": goal.goal, "latest": "not measured yet", "verdict": "-",
               "run": "-", "profile": ""}
        if goal.module in latest:
            stamp, figures, machine = latest[goal.module]
            try:
                row["latest"], row["verdict"] = goal.judge(figures)
            except (KeyError, TypeError, ZeroDivisionError) as exc:
                row["latest"], row["verdict"] = f"incomplete figures ({exc!r})", MISSED
            load = machine.get("load_average_at_start") or [float("nan")]
            row["run"] = f"{stamp} (load {load[0]:.1f})"
        if row["verdict"] == MISSED:
            row["profile"] = _pointer(goal, findings)
        out.append(row)
    return out


def markdown(results_dir: Path, document: str, machine: Figures) -> str:
    lines = [BEGIN, "", "| figure | goal | latest | met? | run (load average at its start) | if missed |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows(results_dir, document):
        lines.append(f"| {row['figure']} | {row['goal']} | {row['latest']} | {row['verdict']} | "
                     f"{row['run']} | {row['profile']} |")
    described = ", ".join(f"{key}: {value}" for key, value in machine.items()
                          if key != "load_average_at_start")
    lines += ["", f"Machine of the newest run: {described}.", "", END]
    return "\n".join(lines)


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    """``text`` with the part from ``begin`` to ``end`` (markers included) replaced by ``block``."""
    head, rest = text.split(begin, 1)
    return head + block + rest.split(end, 1)[1]
