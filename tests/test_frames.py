"""Results as DataFrames: one row per model x benchmark x metric, values matching the run
folders (replayed answers with known scores), exported lazily from `bolt_eval`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from run_factory import math_run, zebra_cells, zebra_run

import bolt_eval
from bolt_eval.comparing import collect_runs
from bolt_eval.comparing.table import compare


def test_runs_df_rows_match_the_summaries(tmp_path: Path) -> None:
    root = tmp_path / "results"
    math_run(root, "a", right={0, 1, 2})
    zebra_run(root, "a", wrong_cells={0: 2})
    df = bolt_eval.runs_df([root])
    heads = df[df["headline"]].set_index("task")
    assert heads.loc["math500", "value"] == pytest.approx(0.5, abs=1e-6)
    assert heads.loc["math500", "n"] == 6 and heads.loc["math500", "status"] == "complete"
    cells = zebra_cells()
    assert heads.loc["zebralogic", "metric"] == "cell_accuracy"
    assert heads.loc["zebralogic", "value"] == pytest.approx(1 - 2 / sum(cells), abs=1e-6)  # 2 of 50 cells wrong
    assert {"model", "task", "metric", "value", "ci_low", "ci_high", "n", "judge", "status", "run_id"} <= set(df.columns)
    assert (df["ci_low"].dropna() <= df.loc[df["ci_low"].notna(), "value"] + 1e-12).all()
    zebra = df[df["task"] == "zebralogic"]
    assert "puzzle_accuracy" in set(zebra["metric"])  # every estimate of the summary, not only the headline
    assert set(df["run_id"]) == {p.name for p in root.iterdir() if p.is_dir()}


def test_compare_df_is_the_comparison_in_display_units(tmp_path: Path) -> None:
    root = tmp_path / "results"
    math_run(root, "base", right={0})
    math_run(root, "new", right={0, 1, 2, 3})
    runs, _ = collect_runs([], root)
    df = bolt_eval.compare_df(compare(runs, "base", rounds=200))
    head = df[df["kind"] == "headline"].set_index("model")
    assert head.loc["new", "value"] == pytest.approx(100 * 4 / 6, abs=1e-3)
    assert head.loc["new", "delta"] == pytest.approx(50.0, abs=1e-3)
    assert head.loc["new", "run_id"].startswith("new--math500--")


def test_frames_are_lazy() -> None:
    code = "import sys, bolt_eval; assert 'pandas' not in sys.modules; bolt_eval.runs_df; assert 'pandas' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
