"""The trajectory report on synthetic runs with known scores (MATH500 fixture, replayed
answers right or wrong by design): training order whatever the append order, paired
deltas to init, the Figure-6 plot, and the CLI `compare --trajectory`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bolt_eval.backends.base import BackendSpec
from bolt_eval.comparing.trajectory import trajectory_comparison
from bolt_eval.frames import trajectory_df
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate
from bolt_eval.training.trajectory import Trajectory
from bolt_eval.types import UserError

MATH_FIXTURE = Path(__file__).resolve().parents[2] / "tasks" / "math500" / "fixture.jsonl"
ROWS = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()][:6]
# label -> (stage, iteration, step, problems answered right, adopted the thoughts format)
CHECKPOINTS = {
    "r/init": ("init", None, None, {0}, False),
    "r/sft/step-10": ("sft", None, 10, {0, 1}, True),
    "r/sft/step-20": ("sft", None, 20, {0, 1, 2}, True),
    "r/online/iter-1": ("online", 1, None, {0, 1, 2, 3}, True),
    "r/online/iter-2": ("online", 2, None, {0, 1, 2, 3, 4}, True),
}


def build(out: Path) -> Path:
    out.mkdir()
    traj = Trajectory(out)
    for label in ["r/online/iter-2", "r/sft/step-20", "r/init", "r/online/iter-1", "r/sft/step-10"]:  # shuffled
        stage, iteration, step, right, adopted = CHECKPOINTS[label]
        answers = out / f"{label.replace('/', '_')}.jsonl"
        answers.write_text("".join(json.dumps({"id": r["unique_id"], "response": (
            "<internal_thoughts>t</internal_thoughts>" if adopted else "") + "\\boxed{%s}" % (
                r["answer"] if i in right else "999")}) + "\n" for i, r in enumerate(ROWS)))
        [run] = evaluate(EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 6)],
                                    backend=BackendSpec("replay", str(answers)), thoughts="bolt",
                                    out=str(out / "results"), label=label, progress=False))
        traj.append({"stage": stage, "iteration": iteration, "step": step, "label": label, "checkpoint": str(answers),
                     "fingerprint": label, "run_ids": [run.run_id], "results": str(out / "results")})
    traj.close()
    return out


def test_training_order_and_deltas_to_init(tmp_path: Path) -> None:
    out = build(tmp_path / "run")
    assert [e["label"] for e in Trajectory(out).entries()] == list(CHECKPOINTS)
    cmp, runs = trajectory_comparison(out, rounds=200)
    assert cmp.labels == list(CHECKPOINTS) and cmp.baseline == "r/init"
    for label, (*_, right, _) in CHECKPOINTS.items():
        cell = cmp.cells[(label, "math500")]
        assert cell.mean == pytest.approx(100 * len(right) / 6, abs=1e-3)
        if label != "r/init":
            assert cell.delta.mean == pytest.approx(100 * (len(right) - 1) / 6, abs=1e-3)
    df = trajectory_df(out, rounds=200)
    assert list(df["model"]) == list(CHECKPOINTS)
    assert list(df["stage"]) == ["init", "sft", "sft", "online", "online"]
    assert list(df["format_adoption"]) == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert df["delta"].iloc[-1] == pytest.approx(100 * 4 / 6, abs=1e-3)


def test_compare_trajectory_cli_table_plot_and_html(tmp_path: Path) -> None:
    out = build(tmp_path / "run")
    env = dict(os.environ)
    cli = [sys.executable, "-m", "bolt_eval.cli", "compare", "--trajectory", str(out), "--rounds", "100"]
    text = subprocess.run(cli + ["--format", "markdown", "--plots", str(tmp_path / "plots")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert text.returncode == 0, text.stderr
    rows = [line for line in text.stdout.splitlines() if line.startswith("| r/")]
    assert [r.split("|")[1].strip() for r in rows[:5]] == ["r/init (baseline)"] + list(CHECKPOINTS)[1:]
    assert "Δ +66.7" in rows[4]
    assert "format adoption" in text.stdout and "100.0% of 6" in text.stdout
    assert (tmp_path / "plots" / "trajectory.png").stat().st_size > 5000
    page = subprocess.run(cli + ["--format", "html"], capture_output=True, text=True, env=env, timeout=300)
    assert page.returncode == 0 and "Trajectory over checkpoints" in page.stdout and "data:image/png" in page.stdout


def test_missing_run_folder_names_the_entry(tmp_path: Path) -> None:
    traj = Trajectory(tmp_path)
    traj.append({"stage": "sft", "label": "x/sft/step-1", "checkpoint": "c", "fingerprint": "f", "run_ids": ["gone"],
                 "results": str(tmp_path / "results")})
    with pytest.raises(UserError, match="trajectory entry 'x/sft/step-1': run gone not found"):
        trajectory_comparison(tmp_path)


def test_trajectory_refuses_other_row_selections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bolt_eval.cli import main

    assert main(["compare", "--trajectory", str(tmp_path), "--baseline", "x"]) == 2
    assert "drop RUN folders" in capsys.readouterr().err
