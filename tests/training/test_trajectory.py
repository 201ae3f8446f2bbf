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
        add(out, traj, label, *CHECKPOINTS[label], fingerprint=label)
    traj.close()
    return out


def add(out: Path, traj: Trajectory, label: str, stage: str, iteration: int | None, step: int | None,
        right: set[int], adopted: bool, fingerprint: str) -> None:
    """A checkpoint `label` whose replayed answers get the problems in `right` right."""
    answers = out / f"{fingerprint.replace('/', '_')}.jsonl"
    answers.write_text("".join(json.dumps({"id": r["unique_id"], "response": (
        "<internal_thoughts>t</internal_thoughts>" if adopted else "") + "\\boxed{%s}" % (
            r["answer"] if i in right else "999")}) + "\n" for i, r in enumerate(ROWS)))
    [run] = evaluate(EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 6)],
                                backend=BackendSpec("replay", str(answers)), thoughts="bolt",
                                out=str(out / "results"), label=label, progress=False))
    traj.append({"stage": stage, "iteration": iteration, "step": step, "label": label, "checkpoint": str(answers),
                 "fingerprint": fingerprint, "run_ids": [run.run_id], "results": str(out / "results")})


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


def test_a_stage_started_over_retires_its_entries_and_the_later_stages(tmp_path: Path) -> None:
    out = build(tmp_path / "run")
    lines = (out / "trajectory.jsonl").read_text().splitlines()
    traj = Trajectory(out)
    assert traj.retire("online", "stage 3 starts over") == 2
    assert [e["label"] for e in traj.entries()] == ["r/init", "r/sft/step-10", "r/sft/step-20"]
    assert traj.find("r/online/iter-1") is None and traj.retire("online", "again") == 0  # nothing left: no marker
    # the new run's iteration 1 under the same label: one row of it, no clash with the old one
    add(out, traj, "r/online/iter-1", "online", 1, None, {5}, True, fingerprint="new-iter-1")
    assert [e["label"] for e in traj.entries()][-1] == "r/online/iter-1"
    cmp, _ = trajectory_comparison(out, rounds=50)
    assert cmp.labels == ["r/init", "r/sft/step-10", "r/sft/step-20", "r/online/iter-1"]
    assert cmp.cells[("r/online/iter-1", "math500")].mean == pytest.approx(100 * 1 / 6, abs=1e-3)  # the new run's
    # SFT over: its entries and stage 3's go, init stays; every line is still in the file
    assert traj.retire("sft", "SFT starts over") == 3
    traj.close()
    assert [e["label"] for e in Trajectory(out).entries()] == ["r/init"]
    kept = (out / "trajectory.jsonl").read_text().splitlines()
    assert kept[: len(lines)] == lines and sum('"retired"' in x for x in kept) == 2
