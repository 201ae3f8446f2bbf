"""--judge-repeats end to end: real runs against a scripted noisy judge on a loopback HTTP
server (its grade = a known true grade + noise of known SD, drawn from the request's seed),
the ledger re-used on re-runs and for a larger K, byte-identical files without repeats, and
compare / gate reading the widened intervals."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import numpy as np
import pytest
from conftest import bolt
from openai_server import LoopbackServer

from bolt_eval.backends.base import BackendSpec
from bolt_eval.comparing import collect_runs
from bolt_eval.comparing.render import headline_table, to_json
from bolt_eval.comparing.table import compare
from bolt_eval.gate import GateConfig, gate, to_markdown
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.judging.noise import NoiseSpec
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

SIGMA = 1.0
N_QUESTIONS = 16


def _noise(body: dict, sd: float) -> float:
    """Gaussian noise fixed by the prompt and the request's seed (repeats have their own)."""
    digest = hashlib.sha256(json.dumps([body["messages"], body.get("seed")]).encode()).digest()
    return float(np.random.default_rng(int.from_bytes(digest[:8], "big")).normal(0.0, sd))


def true_grade(qid: int, turn: int) -> float:
    return 3.0 + (qid * 7 + turn * 3) % 5  # 3..7: noise of SD 1 is never clipped at 1 or 10 in practice


def noisy_judge(sd: float):
    def reply(body: dict) -> str:
        qid, turn = re.findall(r"ANSWER-(\d+)-(\d)", body["messages"][-1]["content"])[-1]
        grade = min(10.0, max(1.0, true_grade(int(qid), int(turn)) + _noise(body, sd)))
        return f"Fair. Rating: [[{grade:.2f}]]"
    return reply


@pytest.fixture
def mt_data(tmp_path):
    """MT-Bench-shaped questions (writing: no reference answers needed) and replayed answers."""
    data, answers = tmp_path / "questions.jsonl", tmp_path / "answers.jsonl"
    data.write_text("".join(json.dumps({"question_id": 100 + q, "category": "writing",
                                        "turns": [f"Question {q} turn 1", f"Question {q} turn 2"]}) + "\n"
                            for q in range(N_QUESTIONS)))
    answers.write_text("".join(json.dumps({"id": str(100 + q), "responses": [f"ANSWER-{100 + q}-1",
                                                                           f"ANSWER-{100 + q}-2"]}) + "\n"
                               for q in range(N_QUESTIONS)))
    return data, answers


def mt_config(root, data, answers, server, noise=None, label=None):
    judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=8, timeout_s=5.0))
    return EvalConfig(tasks=[TaskSpec("mt_bench", str(data))], backend=BackendSpec("replay", str(answers)),
                      out=str(root), judge=judge, progress=False, judge_noise=noise, label=label)


def dry_calls(cfg) -> int:
    """The judge calls `bolt-eval run --dry-run` lists for the (one) task."""
    from bolt_eval.dryrun import dry_run

    row = next(line for line in dry_run(cfg).splitlines() if line.startswith("| mt_bench"))
    return int(row.split("|")[5])


def test_mt_bench_repeats_measure_the_judge_and_cost_nothing_twice(tmp_path, mt_data, capsys):
    data, answers = mt_data
    root = tmp_path / "results"
    with LoopbackServer(noisy_judge(SIGMA)) as server:
        [plain] = evaluate(mt_config(root, data, answers, server))
        files = {n: (plain.dir / n).read_bytes() for n in ("summary.json", "judgments.jsonl")}
        assert "judge_noise" not in plain.summary and len(server.requests) == 2 * N_QUESTIONS
        assert dry_calls(mt_config(root, data, answers, server, NoiseSpec(3, 0.5))) == 48  # --dry-run counts them

        [r] = evaluate(mt_config(root, data, answers, server, NoiseSpec(3, 0.5)))
        assert r.dir == plain.dir  # the same run: the repeats only add to it
        assert "temperature 0" in capsys.readouterr().err  # the greedy-judge warning
        # 8 of 16 questions x 2 turns x 3 repeats, each a request of its own seed
        assert len(server.requests) == 2 * N_QUESTIONS + 48
        assert sorted({b["seed"] for b in server.requests}) == [0, 1000, 2000, 3000]
        jn = r.summary["judge_noise"]
        assert jn["repeats"] == 3 and jn["share"] == 0.5 and jn["items_repeated"] == 8
        assert jn["repeats_by_status"] == {"ok": 48}
        g = jn["graded"]
        assert g["judgments"] == 16 and g["verdicts"] == 64
        assert g["sd"] == pytest.approx(SIGMA, rel=0.25)  # 48 degrees of freedom: SE ~ 10%
        assert g["agreement"] == 0.0 and g["all_agree"] == 0.0  # continuous noise: no two grades alike
        head = jn["headline"]
        assert head["ci"] == "CI incl. judge noise" and head["mean"] == r.summary["headline"]["mean"]
        assert head["width_ratio"] == pytest.approx((head["hi"] - head["lo"]) / (r.summary["headline"]["hi"]
                                                                             - r.summary["headline"]["lo"]), abs=1e-5)
        assert {k: v for k, v in r.summary.items() if k != "judge_noise"} == plain.summary  # nothing else moved
        assert r.summary["coverage"]["total"] == 2 * N_QUESTIONS  # repeats are not coverage
        assert r.manifest["tokens"]["judge"]["calls"] == 2 * N_QUESTIONS + 48
        rows = [json.loads(line) for line in (r.dir / "judgments.jsonl").read_text().splitlines()]
        assert sum("repeats" in j for row in rows for o in row["judgments"] for j in o.values()) == 16
        db = sqlite3.connect(root / "judgments.sqlite")
        assert db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0] == 2 * N_QUESTIONS + 48

        before = (r.dir / "summary.json").read_bytes()
        [again] = evaluate(mt_config(root, data, answers, server, NoiseSpec(3, 0.5)))
        assert len(server.requests) == 2 * N_QUESTIONS + 48  # a re-run asks nothing
        assert (again.dir / "summary.json").read_bytes() == before and again.manifest["runtime"]["judge_calls"] == 0

        assert dry_calls(mt_config(root, data, answers, server, NoiseSpec(4, 0.5))) == 16
        [more] = evaluate(mt_config(root, data, answers, server, NoiseSpec(4, 0.5)))
        assert len(server.requests) == 2 * N_QUESTIONS + 48 + 16  # K = 4 asks only the 4th repeat
        assert more.summary["judge_noise"]["graded"]["verdicts"] == 80
        assert {b["seed"] for b in server.requests[-16:]} == {4000}

        [back] = evaluate(mt_config(root, data, answers, server))  # without repeats: as if never asked
        assert {n: (back.dir / n).read_bytes() for n in files} == files


def test_compare_and_gate_use_the_intervals_with_judge_noise(tmp_path, mt_data):
    data, answers = mt_data
    with LoopbackServer(noisy_judge(2.0)) as server:
        base = evaluate(mt_config(tmp_path / "results", data, answers, server, label="base"))[0]
        noisy = evaluate(mt_config(tmp_path / "noisy", data, answers, server, NoiseSpec(2, 1.0), label="base"))[0]
        runs, _ = collect_runs([str(base.dir)])
        plain_cmp = compare(runs)
        runs, _ = collect_runs([str(noisy.dir)])
        cmp = compare(runs)
    cell, plain = cmp.cells[("base", "mt_bench")], plain_cmp.cells[("base", "mt_bench")]
    head = noisy.summary["judge_noise"]["headline"]
    assert (cell.lo, cell.hi, cell.judge_noise) == (head["lo"], head["hi"], True)
    assert (plain.lo, plain.hi, plain.judge_noise) == (base.summary["headline"]["lo"], base.summary["headline"]["hi"],
                                                       False)
    assert "‡" in headline_table(cmp) and "‡" not in headline_table(plain_cmp)
    [row] = [r for r in json.loads(to_json(cmp))["rows"] if r["kind"] == "headline"]
    assert row["judge_noise"] is True and row["lo"] == pytest.approx(head["lo"], abs=1e-6)
    assert any("CI incl. judge noise" in n for n in cmp.notes)

    # the same answers and first verdicts on both sides: the item-only delta is exactly 0 with a
    # zero-width interval; with the judge's repeats on one side the interval opens around 0
    plain_gate = gate([str(base.dir)], [str(base.dir)], GateConfig())
    [check] = plain_gate.checks
    assert (check.delta.mean, check.delta.lo, check.delta.hi) == (0.0, 0.0, 0.0)
    noisy_gate = gate([str(base.dir)], [str(noisy.dir)], GateConfig())
    [check] = noisy_gate.checks
    assert check.delta.mean == 0.0 and check.delta.lo < -0.1 and check.delta.hi > 0.1
    assert "includes the judge's noise" in to_markdown(noisy_gate)
    assert "includes the judge's noise" not in to_markdown(plain_gate)


def arena_files(tmp_path, n=24):
    """Arena-Hard-shaped prompts, baseline answers and candidate answers (replayed)."""
    questions, baseline, answers = (tmp_path / f for f in ("q.jsonl", "base.jsonl", "cand.jsonl"))
    questions.write_text("".join(json.dumps({"uid": f"p{i}", "category": "hard_prompt", "prompt": f"Task {i}"}) + "\n"
                                 for i in range(n)))
    baseline.write_text("".join(json.dumps({"uid": f"p{i}", "model": "base", "messages": [
        {"role": "user", "content": f"Task {i}"}, {"role": "assistant", "content": {"answer": f"BASE-{i} " + "x " * i}}]})
        + "\n" for i in range(n)))
    answers.write_text("".join(json.dumps({"id": f"p{i}", "response": f"CAND-{i} " + "- y\n" * (i % 4)}) + "\n"
                               for i in range(n)))
    return questions, baseline, answers


LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def arena_judge(flip: float):
    """The candidate's true verdict is set by its prompt; every verdict (the first one and
    each repeat alike, by its own seed) is a uniformly drawn label with probability `flip`."""
    def reply(body: dict) -> str:
        text = body["messages"][-1]["content"]
        i = int(re.search(r"CAND-(\d+)", text)[1])
        cand_first = text.index("CAND-") < text.index("BASE-")
        digest = hashlib.sha256(json.dumps([text, body.get("seed")]).encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        wins = i % 3 != 0  # the candidate wins two prompts in three
        label = ("A>B" if cand_first else "B>A") if wins else ("B>A" if cand_first else "A>B")
        if rng.random() < flip:
            label = LABELS[rng.integers(0, 5)]
        return f"My final verdict is: [[{label}]]"
    return reply


def test_arena_hard_repeats_feed_the_battle_bootstrap(tmp_path):
    questions, baseline, answers = arena_files(tmp_path)
    options = {"baseline_answers": str(baseline), "style_tokenizer": "words", "bootstrap_rounds": 40}
    with LoopbackServer(arena_judge(0.5)) as server:
        cfg = EvalConfig(tasks=[TaskSpec("arena_hard", str(questions), options=options)],
                         backend=BackendSpec("replay", str(answers)), out=str(tmp_path / "results"), progress=False,
                         judge=JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=8)),
                         judge_noise=NoiseSpec(2, 0.5))
        [r] = evaluate(cfg)
        assert len(server.requests) == 48 + 2 * 24  # 12 prompts x 2 games x 2 repeats
    jn = r.summary["judge_noise"]
    p = jn["pairwise"]
    assert p["judgments"] == 24 and p["verdicts"] == 72
    # a verdict is the true one with probability 0.5 + 0.5 / 5 = 0.6, each other label 0.1:
    # two verdicts agree with probability 0.6^2 + 4 x 0.1^2 = 0.4 (72 pairs: SE ~0.06)
    assert 0.25 < p["agreement"] < 0.6 and -0.1 < p["fleiss_kappa"] < 0.4
    assert "graded" not in jn
    head, item_only = jn["headline"], r.summary["headline"]
    assert head["mean"] == item_only["mean"] and head["n"] == item_only["n"] == 24
    assert head["lo"] <= head["mean"] <= head["hi"] and head["width_ratio"] > 0


def test_cli_flags_reach_the_run(tmp_path, mt_data):
    data, answers = mt_data
    with LoopbackServer(noisy_judge(SIGMA)) as server:
        out = bolt("run", "--backend", "replay", "--model", str(answers), "--tasks", "mt_bench", "--data", str(data),
                   "--judge-model", "judge-x", "--judge-base-url", server.base_url, "--judge-repeats", "1",
                   "--judge-repeat-share", "0.25", "--out", str(tmp_path / "r"), "--no-progress")
        assert out.returncode == 0, out.stderr
        assert len(server.requests) == 2 * N_QUESTIONS + 8
    [summary] = [json.loads(p.read_text()) for p in (tmp_path / "r").glob("*/summary.json")]
    assert summary["judge_noise"]["items_repeated"] == 4
    bad = bolt("run", "--backend", "replay", "--model", str(answers), "--tasks", "mt_bench", "--data", str(data),
               "--judge-repeat-share", "0.5", "--out", str(tmp_path / "r2"))
    assert bad.returncode == 2 and "--judge-repeat-share needs --judge-repeats" in bad.stderr


def test_wildbench_repeats_widen_wb_score_and_measure_both_kinds(tmp_path):
    """The WildBench fixture (24 tasks) under scripted_world's judge, whose repeats (another
    seed) grade anew and choose anew: WB-Score grades and WB-Reward choices both measured,
    the task-macro WB-Score's interval widened by the repeats."""
    import scripted_world as world

    from bolt_eval.judging.parsers import WB_CHOICES

    def reply(body: dict) -> str:
        text = world.reply(body)
        if body["model"] != world.JUDGE or not body.get("seed"):
            return text
        rng = np.random.default_rng(body["seed"] + world._digest(body) % 1000)
        verdict = json.loads(text)
        if "score" in verdict:
            verdict["score"] = str(rng.integers(1, 11))
        else:
            verdict["choice"] = WB_CHOICES[rng.integers(0, 5)]
        return json.dumps(verdict)

    with LoopbackServer(reply) as server:
        cfg = world.eval_config(tmp_path / "results", server.base_url, ["wildbench"])
        cfg.judge_noise = NoiseSpec(2, 0.5)
        [r] = evaluate(cfg)
    jn = r.summary["judge_noise"]
    assert jn["items_repeated"] == 12 and set(jn) >= {"graded", "pairwise", "headline"}
    assert jn["graded"]["sd"] > 1.0 and jn["pairwise"]["agreement"] < 0.6
    head = jn["headline"]
    assert head["metric"] == "wb_score_macro" and head["mean"] == r.summary["metrics"]["wb_score_macro"]["mean"]
    assert head["hi"] - head["lo"] > 0 and head["width_ratio"] == pytest.approx(
        (head["hi"] - head["lo"]) / (r.summary["headline"]["hi"] - r.summary["headline"]["lo"]), abs=1e-5)
