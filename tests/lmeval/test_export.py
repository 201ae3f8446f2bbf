"""`bolt-eval export-lm-eval` round trip: lm-eval runs the exported MATH500 and ZebraLogic
tasks on scripted answers (an lm-eval LM that replays them, so the comparison is exact),
bolt-eval scores the same answers through its replay backend, and the two agree on every
item and on the headline, for a plain mean (MATH500 accuracy) and a micro average
(ZebraLogic cell accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MATH_FIXTURE, bolt


def zebra_answers(puzzles: list[dict]) -> list[str]:
    """Right, one cell wrong, no answer, right but in a braced note (not an answer), ..."""
    out = []
    for i, p in enumerate(puzzles):
        header, rows = p["solution"]["header"], p["solution"]["rows"]
        table = {f"House {h}": dict(zip(header[1:], row[1:])) for h, row in enumerate(rows, start=1)}
        if i % 4 == 1:
            table["House 1"][header[1]] = "nobody"
        answer = json.dumps({"reasoning": "...", "solution": table})
        out.append([answer, answer, "I cannot tell.", "{ unmatched " + answer][i % 4])
    return out


def math_answers(rows: list[dict]) -> list[str]:
    return [[f"So the answer is $\\boxed{{{r['answer']}}}$.", "The answer is \\boxed{-1}.", "No idea."][i % 3]
            for i, r in enumerate(rows)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], dict[str, dict[str, str]]]:
    from bolt_eval.zebra.generator import generate_set

    tmp = tmp_path_factory.mktemp("export")
    zebra = tmp / "zebra.jsonl"
    puzzles = [p.to_record() for p in generate_set([(2, 2), (3, 3)], 4, "export-test")]
    zebra.write_text("".join(json.dumps(p) + "\n" for p in puzzles))
    math_rows = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines() if line.strip()][:12]
    math = tmp / "math.jsonl"
    math.write_text("".join(json.dumps(r) + "\n" for r in math_rows))
    answers = {"math500": {r["unique_id"]: a for r, a in zip(math_rows, math_answers(math_rows))},
               "zebralogic": {p["id"]: a for p, a in zip(puzzles, zebra_answers(puzzles))}}
    out = bolt("export-lm-eval", "--tasks", "math500,zebralogic", "--data", f"math500={math}",
               "--data", f"zebralogic={zebra}", "-o", str(tmp / "tasks"))
    assert out.returncode == 0, out.stderr
    return tmp / "tasks", {"math500": math, "zebralogic": zebra}, answers


def test_exported_folder(exported):
    tasks, _, answers = exported
    assert sorted(p.name for p in tasks.iterdir()) == ["bolt_math500", "bolt_zebralogic"]
    assert sorted(p.name for p in (tasks / "bolt_math500").iterdir()) == ["bolt_math500.yaml", "data.jsonl", "utils.py"]
    docs = [json.loads(line) for line in (tasks / "bolt_zebralogic" / "data.jsonl").read_text().splitlines()]
    assert [d["id"] for d in docs] == list(answers["zebralogic"])
    assert "!function utils.process_results" in (tasks / "bolt_math500" / "bolt_math500.yaml").read_text()


def test_lm_eval_equals_bolt_eval_item_by_item(exported, tmp_path):
    import lm_eval
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.comparing.runs import load_run
    from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

    tasks, data, answers = exported
    by_prompt = {}
    for name in ("math500", "zebralogic"):
        for line in (tasks / f"bolt_{name}" / "data.jsonl").read_text().splitlines():
            doc = json.loads(line)
            by_prompt[doc["prompt"]] = answers[name][doc["id"]]

    class Replayed(LM):
        def generate_until(self, requests, disable_tqdm=False):
            return [by_prompt[r.args[0]] for r in requests]

        def loglikelihood(self, requests, disable_tqdm=False):
            raise AssertionError("the exported tasks only generate")

        loglikelihood_rolling = loglikelihood

    results = lm_eval.simple_evaluate(model=Replayed(), tasks=["bolt_math500", "bolt_zebralogic"], log_samples=True,
                                      task_manager=TaskManager(include_path=str(tasks), include_defaults=False))
    replay = tmp_path / "answers.jsonl"
    replay.write_text("".join(json.dumps({"id": i, "response": a}) + "\n" for t in answers.values() for i, a in t.items()))
    runs = evaluate(EvalConfig(tasks=[TaskSpec("math500", str(data["math500"])), TaskSpec("zebralogic", str(data["zebralogic"]))],
                               backend=BackendSpec("replay", str(replay)), out=str(tmp_path / "r"), progress=False))
    for run, metric, expected in zip(runs, ("accuracy", "cell_accuracy"), (4 / 12, None)):
        ours = load_run(run.dir)
        theirs = {s["doc"]["id"]: s[metric][0] for s in results["samples"][f"bolt_{run.task}"]}
        assert theirs == ours.values  # item by item
        mean = results["results"][f"bolt_{run.task}"][f"{metric},none"]
        rebuilt = sum(v * ours.weights[i] for i, v in ours.values.items()) / sum(ours.weights.values())
        assert abs(mean - rebuilt) <= 1e-12  # bolt-eval's headline from its items, unrounded
        assert abs(mean - run.summary["headline"]["mean"]) <= 5e-7  # as summary.json keeps it (6 decimals)
        if expected is not None:
            assert abs(mean - expected) <= 1e-9
        assert 0 < mean < 1
