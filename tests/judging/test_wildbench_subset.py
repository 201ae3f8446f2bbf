"""WildBench on a subset that lacks task groups: the macro over the groups present stays the
headline (deliberate), and the summary names the missing groups and gives the official
reading beside it: allenai/WildBench leaderboard/data_dir/_create_tables.py at d6b8dca
(2024-08-01), line 246, `task_macro_score = sum(task_cat_score[tag] * weights_by_task[tag] for
tag in task_cat_score) / sum(weights_by_task.values())`: all five weights, 4.75."""

from __future__ import annotations

import pytest

from bolt_eval.benchmarks.wildbench import WildBench
from bolt_eval.types import Sample
from bolt_eval.wildbench import scoring


def test_missing_groups_and_the_official_macro_by_hand():
    values = [10.0, 20.0, 60.0, -20.0]
    groups = [("Creative Tasks",), ("Creative Tasks", "Coding & Debugging"), ("Coding & Debugging",),
              ("Math & Data Analysis",)]
    r = scoring.Resampled([[v] for v in values], groups, rounds=50)
    assert r.missing_groups() == ["Planning & Reasoning", "Information/Advice seeking"]
    weighted = 0.5 * 15 + 1.25 * 40 + 1.0 * -20
    assert r.official_macro()[0] == pytest.approx(weighted / 4.75)
    assert r.macros(r.point_idx)[0, 0] == pytest.approx(weighted / 2.75)  # ours: the groups present
    full = scoring.Resampled([[1.0]] * 5, [(g,) for g in scoring.GROUPS], rounds=50)
    assert full.missing_groups() == [] and full.official_macro()[0] == pytest.approx(1.0)


def record(sid, grade):
    judgment = {"status": "ok", "verdict": {"score": grade}} if grade is not None else {"status": "parse_error"}
    return {"id": sid, "outputs": [{"turns": [{"solution": "an answer"}], "judgments": {"score": judgment}}]}


def test_the_summary_says_when_a_subset_lacks_groups():
    task = WildBench()
    samples = [Sample("a", ("q",), {"groups": ("Coding & Debugging",), "references": {}}),
               Sample("b", ("q",), {"groups": ("Creative Tasks",), "references": {}}),
               Sample("c", ("q",), {"groups": ("Math & Data Analysis",), "references": {}})]
    out = task.aggregate(samples, [record("a", 8), record("b", 6), record("c", None)])  # c: no verdict
    assert out["groups_missing"] == ["Planning & Reasoning", "Math & Data Analysis", "Information/Advice seeking"]
    ours = (1.25 * 60.0 + 0.5 * 20.0) / 1.75  # adjusted grades: (8 - 5) * 20, (6 - 5) * 20
    assert out["wb_score_macro"]["mean"] == pytest.approx(ours, abs=1e-5)
    assert out["wb_score_macro_official"] == pytest.approx((1.25 * 60.0 + 0.5 * 20.0) / 4.75, abs=1e-5)
    assert "the official scorer divides by all five weights and would read 17.9" in out["notes"][0]
    full = [Sample(g, ("q",), {"groups": (g,), "references": {}}) for g in scoring.GROUPS]
    assert "groups_missing" not in task.aggregate(full, [record(g, 7) for g in scoring.GROUPS])
