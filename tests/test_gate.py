"""`bolt-eval gate` on real run folders: exit 0 on a pass, 1 on a regression or low
coverage, 2 on unusable input; the rules (drop, noninferior, both ways); the markdown
summary and the JUnit XML; and the project's own CI gate on the smoke suite."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import MATH_FIXTURE, ROOT, bolt, default_rows
from openai_server import LoopbackServer
from run_factory import MT_IDS, grading_judge, math_run, mt_run

from bolt_eval.cli import main

ALL = {q: (8, 6) for q in MT_IDS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """label -> {task: run folder}."""
    root = tmp_path_factory.mktemp("gate") / "results"
    out: dict[str, dict[str, Path]] = {}

    def add(result):
        out.setdefault(result.manifest["label"], {})[result.task] = result.dir

    for label, right in (("base", set(range(6))), ("same", set(range(6))), ("worse", {0}),
                         ("one-wrong", set(range(5))), ("half", {0, 1, 2})):
        add(math_run(root, label, right))
    with LoopbackServer(grading_judge) as server:
        add(mt_run(root, "base", ALL, server))
        add(mt_run(root, "same", ALL, server))
        add(mt_run(root, "worse", ALL, server))
        add(mt_run(root, "one-wrong", {**ALL, MT_IDS[1]: (8, 0)}, server))  # 7 of 8 judged
        add(mt_run(root, "half", ALL, server, judge_model="judge-y"))
    return out


def folders(runs, label, *tasks):
    return [str(runs[label][t]) for t in (tasks or ("math500", "mt_bench"))]


def gate(capsys, runs, base, cand, *extra, tasks=()):
    code = main(["gate", "--baseline", *folders(runs, base, *tasks), "--candidate", *folders(runs, cand, *tasks), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_identical_answers_pass_with_exit_0(runs):
    out = bolt("gate", "--baseline", *folders(runs, "base"), "--candidate", *folders(runs, "same"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("## bolt-eval gate: PASS (2 benchmarks)")
    assert "| MATH500 (%) | 100.0      | 100.0       | +0.0 [+0.0, +0.0]" in out.stdout
    assert "| MT-Bench    | 7.00       | 7.00        | +0.00 [+0.00, +0.00]" in out.stdout


def test_a_clear_drop_fails_with_exit_1_and_says_why(runs, tmp_path):
    junit = tmp_path / "gate.xml"
    out = bolt("gate", "--baseline", *folders(runs, "base"), "--candidate", *folders(runs, "worse"),
               "--junit", str(junit), "--summary", str(tmp_path / "comment.md"))
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("## bolt-eval gate: FAIL (1 of 2 benchmarks)")
    # 1 of 6 right vs 6 of 6: every draw loses, the interval is at most -1/6 * 100
    assert "- **MATH500**: regression: Δ -83.3 [" in out.stdout and "lies below -2" in out.stdout
    assert (tmp_path / "comment.md").read_text() == out.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["math500"].find("failure").get("message").startswith("regression: Δ -83.3")
    assert cases["mt_bench"].find("failure") is None


def test_rules_drop_noninferior_and_both_ways(runs, tmp_path, capsys):
    # one item of six lost: a draw misses it with p = (5/6)^6 = 33%, so the CI reaches 0:
    # no proven drop (default rule), but a drop beyond 2 points is not ruled out either
    code, out, _ = gate(capsys, runs, "base", "one-wrong", tasks=("math500",))
    assert code == 0 and "| -16.7 [-50.0, +0.0]" in out
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("benchmarks:\n  math500: {rule: noninferior, margin: 2}\n")
    code, out, _ = gate(capsys, runs, "base", "one-wrong", "--config", str(cfg), tasks=("math500",))
    assert code == 1 and "does not rule out a drop beyond -2" in out
    # a rise passes by default; `direction: both` fails it: half -> all right, every draw
    # but (1/2)^6 = 1.6% gains, so the lower end is 1/6 > margin
    code, out, _ = gate(capsys, runs, "half", "base", tasks=("math500",))
    assert code == 0 and "+50.0 [+16.7, +83.3]" in out
    cfg.write_text("defaults: {direction: both, margin: 5}\n")
    code, out, _ = gate(capsys, runs, "half", "base", "--config", str(cfg), tasks=("math500",))
    assert code == 1 and "changed: Δ +50 [+16.7, +83.3] lies above +5" in out


def test_low_coverage_fails(runs, capsys):
    code, out, _ = gate(capsys, runs, "base", "one-wrong", tasks=("mt_bench",))
    assert code == 1
    assert "low coverage: 7/8 judged (88%) < min_judged 95%" in out and "'refused': 1" in out


def test_unusable_input_exits_2(runs, tmp_path, capsys):
    out = bolt("gate", "--baseline", *folders(runs, "base"), "--candidate", *folders(runs, "same", "math500"))
    assert out.returncode == 2 and "--candidate has no run of mt_bench (the baseline has)" in out.stderr
    code, _, err = gate(capsys, runs, "same", "half", tasks=("mt_bench",))
    assert code == 2 and "mt_bench: judge (judge.model): openai:judge-x (same) vs openai:judge-y (half)" in err
    assert "refresh the baseline" in err
    code = main(["gate", "--baseline", str(tmp_path / "gone"), "--candidate", str(tmp_path)])
    assert code == 2 and "gone: no such run folder" in capsys.readouterr().err
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("benchmarks:\n  math500: {margin: 2, rul: drop}\n")
    code, _, err = gate(capsys, runs, "base", "same", "--config", str(cfg))
    assert code == 2 and "benchmarks.math500.rul: Extra inputs are not permitted" in err
    cfg.write_text("margins: 3\n")
    code, _, err = gate(capsys, runs, "base", "same", "--config", str(cfg))
    assert code == 2 and "bad.yaml: field 'margins': Extra inputs are not permitted" in err


BASELINE = ROOT / "results" / "baselines" / "smoke"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, str]:
    """What CI runs, once for the two tests below (and what `nox -s eval` runs, shorter): the
    default model on the smoke suite, judging itself. Its results folder and printed table."""
    from run_factory import smoke_command

    results = tmp_path_factory.mktemp("smoke") / "results"
    out = bolt(*smoke_command(results), timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    return results, out.stdout


@pytest.mark.slow
def test_the_smoke_suite_on_the_default_model_has_a_number_and_full_coverage_in_every_row(smoke) -> None:
    """Every judged row fully covered, its constrained verdicts said beside the judge, one
    hf judge call per judgment, and MATH500 stored in the data's order within the token limit."""
    results, stdout = smoke
    rows = default_rows(stdout)
    assert sorted(rows) == ["arena_hard", "math500", "mt_bench", "wildbench", "zebralogic"]
    assert {task: cells[3] for task, cells in rows.items()} == {
        "math500": "accuracy (%)", "zebralogic": "cell_accuracy (%)", "mt_bench": "score",
        "wildbench": "wb_score_macro", "arena_hard": "sc_win_rate (%)"}
    for task, cells in rows.items():
        assert cells[4] != "nan", task
    summaries = {p.parent.name.split("--")[1]: json.loads(p.read_text()) for p in results.glob("*/summary.json")}
    # 3 questions x 2 turns, 3 tasks x (1 grade + 2 battles), 3 prompts x 2 orders
    calls = {"mt_bench": 6, "wildbench": 9, "arena_hard": 6}
    for task, n in calls.items():
        judged, total = map(int, rows[task][7].split("/"))
        assert judged == total > 0, task
        assert rows[task][8].startswith("default (substitute)"), task
        cov = summaries[task]["coverage"]
        assert cov["judged"] == cov["total"] and sum(cov["by_method"].values()) == cov["total"]
        note = f"({cov['by_method']['constrained']}/{cov['total']} constrained)"
        assert (note in rows[task][8]) == (cov["by_method"]["constrained"] > 0)
        [run] = results.glob(f"default--{task}--*")
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["config"]["judge"]["model"]["backend"] == "hf", task
        assert manifest["tokens"]["judge"]["calls"] == n and manifest["tokens"]["judge"]["completion"] > 0, task
        assert manifest["cost_usd"]["total"] == 0.0, task
    [math] = results.glob("default--math500--*")
    records = [json.loads(line) for line in (math / "samples.jsonl").read_text().splitlines()]
    expected = [json.loads(line)["unique_id"] for line in MATH_FIXTURE.read_text().splitlines()[:3]]
    assert [r["id"] for r in records] == expected  # the data's order, one record per problem
    assert all(0 < r["outputs"][0]["turns"][0]["completion_tokens"] <= 64 for r in records)
    manifest = json.loads((math / "manifest.json").read_text())
    assert manifest["config"]["backend"]["model"]["location"].endswith("SmolLM2-135M-Instruct")


@pytest.mark.slow
def test_ci_gate_default_model_on_the_smoke_suite(smoke) -> None:
    """What CI runs: the default model on the smoke suite, gated against the committed
    baseline with its gate.yaml. A change that alters generation or scoring fails here."""
    results, _ = smoke
    out = bolt("gate", "--baseline", str(BASELINE), "--candidate", str(results), "--config", str(BASELINE / "gate.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("## bolt-eval gate: PASS (5 benchmarks)"), out.stdout
