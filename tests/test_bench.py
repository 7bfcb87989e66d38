"""The benchmark (python -m benchmarks, from a checkout) reports every figure, and the shipped
package never reaches into benchmarks/ or tests/. Never timed: the figures go in the README; a full
run checks that every step measured what it declares."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from benchmarks import measure
from benchmarks.run import STEPS, TARGETS, Step, keys, run, table
from tests.conftest import CAMPAIGN_FILE, ROOT

SHIPPED = ("pipeline", "extractors", "rules")


def test_every_figure_is_declared_once_by_a_step_and_shown_in_the_table():
    figures = keys()
    assert len(figures) == len(set(figures)) and set(TARGETS) <= set(figures)
    assert all(step.label for step in STEPS)
    on_target = {k: TARGETS[k][0] if k in TARGETS else 1.0 for k in figures}
    shown = table({"mode": "full", "machine": {"nproc": 2, "cpu": "x", "ram_gb": 1.0, "python": "3"}, "sizes": {},
                   **on_target})
    assert all(f"  {k} " in shown for k in figures) and shown.count("  ok") == len(TARGETS)


def test_a_run_reports_its_steps_figures_and_stops_on_one_missing(tmp_path):
    cheap = Step("status SQL", ("status_query_ms",),
                 lambda bench: measure.status_figures(n_units=20, n_campaigns=2, repeat=1))
    result = run(True, CAMPAIGN_FILE, steps=[cheap])
    assert result["mode"] == "quick" and "not 10,000" in result["note"] and result["status_query_ms"] > 0
    assert result["machine"]["nproc"] >= 1 and result["machine"]["ram_gb"] > 0
    json.dumps(result)
    broken = Step("nothing", ("status_query_ms",), lambda bench: {})
    try:
        run(True, CAMPAIGN_FILE, steps=[broken])
    except RuntimeError as exc:
        assert "did not measure status_query_ms" in str(exc)
    else:
        raise AssertionError("a step that measured nothing went unnoticed")


def test_the_benchmark_runs_from_a_checkout():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "--quick" in proc.stdout and "--json" in proc.stdout, proc.stderr


def test_the_instruction_count_runs_each_side_from_a_checkout():
    """Under valgrind it takes minutes, so only what each child runs is tested: one round of a side."""
    for side in ("intake", "pdfium"):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.instructions", "--child", side, "0"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "benchmarks.instructions", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "instructions" in proc.stdout, proc.stderr


def test_the_shipped_package_never_imports_benchmarks_or_tests():
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    assert name.split(".")[0] not in ("tests", "benchmarks"), f"{path}: imports {name}"
