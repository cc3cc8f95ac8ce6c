"""A smoke of the benchmark harness (never a benchmark): one module at tiny durations through
``python -m bench``, and the keys of the JSON and the markdown it writes, not their values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import _goals  # noqa: E402

DOCUMENT = ROOT / "docs" / "performance.md"


def test_a_tiny_run_writes_results_and_fills_its_goal_row(tmp_path: Path) -> None:
    document = tmp_path / "performance.md"
    shutil.copy(DOCUMENT, document)
    results = tmp_path / "results"
    env = {**os.environ, "BENCH_SECONDS": "1", "BENCH_ROUNDS": "1", "BENCH_RESULTS_DIR": str(results),
           "BENCH_DOCUMENT": str(document), "BENCH_TRACING_WORKERS": "1"}
    done = subprocess.run([sys.executable, "-m", "bench", "tracing"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (written,) = results.glob("*.json")
    run = json.loads(written.read_text())
    assert {"cores", "cpu", "memory_gib", "python", "kernel", "nginx", "postgresql", "rabbitmq", "wrk",
            "load_average_at_start"} <= run["machine"].keys()
    figures = run["benchmarks"]["tracing"]
    assert figures["cpu_ms_per_req"].keys() == {"not installed", "off", "on"}
    assert figures["ratios"].keys() == {"off / not installed", "on / not installed"}
    assert run["failed"] == {}

    text = document.read_text()
    table = text.split(_goals.BEGIN, 1)[1].split(_goals.END, 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0][2:] for row in rows] == [goal.figure for goal in _goals.GOALS]
    tracing_row = next(row for row in rows if row.startswith("| tracing"))
    assert "not measured" not in tracing_row and "incomplete" not in tracing_row
    assert tracing_row.split(" | ")[3] in {_goals.MET, _goals.MISSED}
    assert "**bench.tracing**" in text.split("<!-- BEGIN latest bench figures -->", 1)[1]
    assert "## What the profiles showed" in text  # the rest of the document is kept


def test_the_newest_results_fill_every_goal_row() -> None:
    """Every goal has figures in bench/results/ and its judge reads them (keys match the modules)."""
    for row in _goals.rows(ROOT / "bench" / "results", DOCUMENT.read_text()):
        assert row["latest"] != "not measured yet", row["figure"]
        assert not row["latest"].startswith("incomplete figures"), row
