"""Format adoption: recorded in each run's summary (beside the headline) under the run's
thoughts preset, exact on replayed answers of known form, and shown by `bolt-eval compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MATH_FIXTURE, bolt

from bolt_eval.adoption import adoption, of_run
from bolt_eval.backends.base import BackendSpec
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

ROWS = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()][:4]
RESPONSES = [
    "<internal_thoughts>add them up</internal_thoughts><external_solution>\\boxed{%s}</external_solution>",
    "<internal_thoughts>hmm</internal_thoughts>\\boxed{%s}",  # no solution tags: still a solution
    "<internal_thoughts>never closed \\boxed{%s}",  # thoughts open, never closed: not adopted
    "plain answer \\boxed{%s}",  # no thoughts at all: not adopted
]


def _run(tmp_path: Path, thoughts: str, label: str = "m") -> Path:
    answers = tmp_path / f"{label}-answers.jsonl"
    answers.write_text("".join(json.dumps({"id": r["unique_id"], "response": resp % r["answer"]}) + "\n"
                               for r, resp in zip(ROWS, RESPONSES)))
    cfg = EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 4)], backend=BackendSpec("replay", str(answers)),
                     thoughts=thoughts, out=str(tmp_path / "results"), label=label, progress=False)
    [result] = evaluate(cfg)
    return result.dir


def test_summary_records_adoption_under_the_runs_preset(tmp_path: Path) -> None:
    folder = _run(tmp_path, "bolt")
    summary = json.loads((folder / "summary.json").read_text())
    a = summary["adoption"]
    assert (a["preset"], a["n"], a["rate"]) == ("bolt", 4, 0.5)
    assert a["closed_thoughts"] == 0.5
    assert a["non_empty_solution"] == 0.75  # the unclosed one has no solution
    thoughts = ["add them up", "hmm", f"never closed \\boxed{{{ROWS[2]['answer']}}}", ""]
    assert a["thought_chars_mean"] == pytest.approx(sum(map(len, thoughts)) / 4)
    assert summary["headline"]["metric"] == "accuracy"  # adoption is not the headline
    assert of_run(folder) == a  # recomputed from the records: the same


def test_no_thoughts_preset_means_no_adoption(tmp_path: Path) -> None:
    folder = _run(tmp_path, "none")
    assert "adoption" not in json.loads((folder / "summary.json").read_text())
    assert adoption([], "bolt") is None


def test_compare_shows_adoption(tmp_path: Path) -> None:
    folder = _run(tmp_path, "bolt")
    out = bolt("compare", str(folder))
    assert out.returncode == 0, out.stderr
    adopted = out.stdout.split("format adoption")[1]
    assert "math500" in adopted and "50.0% of 4" in adopted, out.stdout
