"""Constrained verdicts from local judges (bolt_eval/judging/constrained.py): the allowed set
always yields a verdict, the hf choice is the argmax of the continuations' log-likelihoods
(computed here independently, without a KV cache), a ledger row records `constrained`,
an old ledger gains the column without losing rows, and an API judge is unchanged."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from conftest import bolt
from openai_server import LoopbackServer

from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.judging import constrained
from bolt_eval.judging.cost import Budget, Meter
from bolt_eval.judging.judge import Judge, JudgePrompt, JudgeSpec
from bolt_eval.judging.ledger import Ledger
from bolt_eval.judging.parsers import PARSERS
from bolt_eval.types import SamplingParams

RATE = JudgePrompt("single-v1@abc", ({"role": "system", "content": "You grade answers."},
                                     {"role": "user", "content": "Question: 2+3? Answer: 5. Rate it."}), "rating")
ARENA = JudgePrompt("hard_prompt@abc", ({"role": "user", "content": "Which answer is better, A or B?"},), "arena")


@pytest.fixture(scope="module")
def hf_judge_backend(tiny_llama: Path):
    backend = build_backend(BackendSpec("hf", str(tiny_llama), device="cpu"))
    yield backend
    backend.close()


def judge(tmp_path: Path, spec: BackendSpec, **kw) -> Judge:
    return Judge(JudgeSpec(spec, params=SamplingParams(temperature=0.0, max_new_tokens=8), **kw),
                 Ledger(tmp_path / "judgments.sqlite"), Meter.for_model(spec.backend, spec.model, {}), Budget(None))


@pytest.mark.parametrize("parser", sorted(constrained.ALLOWED))
def test_every_allowed_choice_is_a_verdict_of_the_official_parser(parser: str) -> None:
    allowed = constrained.ALLOWED[parser]
    verdicts = [constrained.verdict(parser, i)[0] for i in range(len(allowed.choices))]
    assert None not in verdicts and len({json.dumps(v, sort_keys=True) for v in verdicts}) == len(verdicts)
    assert all(PARSERS[parser].parse(allowed.text(i)) == v for i, v in enumerate(verdicts))
    if allowed.grades:  # the grade of each choice is the grade the parser reads
        read = [v["score"] if isinstance(v, dict) else v for v in verdicts]
        assert read == list(allowed.grades) == [float(g) for g in range(1, 11)]


def independent_scores(model_dir: Path, prompt: JudgePrompt, reply: str, choices: tuple[str, ...]) -> list[float]:
    """Log-likelihood of each choice from one plain forward pass over the whole text."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    context = tok.apply_chat_template(list(prompt.messages), tokenize=False, add_generation_prompt=True) + reply
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    out = []
    for c in choices:
        whole = tok(context + c, add_special_tokens=False)["input_ids"]
        start = next(i for i, (a, b) in enumerate(zip(ctx + [None], whole)) if a != b)
        with torch.inference_mode():
            logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), dim=-1)
        out.append(sum(float(logp[j - 1, whole[j]]) for j in range(start, len(whole))))
    return out


def test_hf_choice_is_the_argmax_of_the_scored_continuations(hf_judge_backend, tiny_llama: Path) -> None:
    for prompt in (RATE, ARENA):
        allowed = constrained.ALLOWED[prompt.parser]
        request = allowed.request(prompt.messages, "Let me compare the answers carefully.")
        [choice] = hf_judge_backend.choose([request])
        expected = independent_scores(tiny_llama, prompt, request.reply, allowed.choices)
        assert choice.logprobs == pytest.approx(expected, abs=1e-3)
        assert choice.index == max(range(len(expected)), key=expected.__getitem__)
        assert len(set(round(x, 3) for x in expected)) > 1  # the choices were told apart, not tied


def test_a_local_judge_without_a_verdict_gets_one_constrained_and_the_ledger_says_so(
        tmp_path: Path, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On hf the verdicts are scored with the replies, on the cache they left: no second
    prefill (`score_choices` is never called), the same scores as a plain forward pass."""
    from bolt_eval.backends.hf import HFBackend

    def second_prefill(*args):
        raise AssertionError("the verdict was scored apart from its reply")

    monkeypatch.setattr(HFBackend, "score_choices", second_prefill)
    j = judge(tmp_path, BackendSpec("hf", str(tiny_llama), device="cpu"), expected_score=True)
    rate, arena = j.run([RATE, ARENA])
    assert j.calls == 2  # one free reply each, no free retries
    for e, prompt in ((rate, RATE), (arena, ARENA)):
        allowed = constrained.ALLOWED[prompt.parser]
        assert PARSERS[prompt.parser].parse(e.raw) is None  # the random model wrote no verdict itself
        assert (e.status, e.method) == ("ok", "constrained")
        scores = [e.choice_logprobs[c] for c in allowed.choices]
        assert e.verdict_text == allowed.text(max(range(len(scores)), key=scores.__getitem__))
        assert scores == pytest.approx(independent_scores(tiny_llama, prompt, allowed.request((), e.raw).reply,
                                                          allowed.choices), abs=1e-3)
    monkeypatch.undo()
    assert rate.verdict in [float(g) for g in range(1, 11)] and arena.verdict in ("A>>B", "A>B", "A=B", "B>A", "B>>A")
    weights = [math.exp(rate.choice_logprobs[f"{g}]]"]) for g in range(1, 11)]
    assert constrained.expected_grade("rating@1", rate.choice_logprobs) == pytest.approx(
        sum(w * g for w, g in zip(weights, range(1, 11))) / sum(weights), abs=1e-5)
    j.close()
    with sqlite3.connect(tmp_path / "judgments.sqlite") as db:
        rows = dict(db.execute("SELECT key, method FROM judgments").fetchall())
    assert sorted(rows.values()) == ["constrained", "constrained"]
    again = judge(tmp_path, BackendSpec("hf", str(tiny_llama), device="cpu"))
    assert [e.verdict for e in again.run([RATE, ARENA])] == [rate.verdict, arena.verdict] and again.calls == 0


def test_failed_free_replies_in_the_ledger_are_constrained_without_a_new_call(tmp_path: Path, tiny_llama: Path) -> None:
    spec = BackendSpec("hf", str(tiny_llama), device="cpu")
    free = judge(tmp_path, spec, constrained=False, parse_retries=0)
    [before] = free.run([RATE])
    assert (before.status, before.method, free.calls) == ("truncated", "free", 1)  # 8 tokens, no verdict
    free.close()
    later = judge(tmp_path, spec)
    [after] = later.run([RATE])
    assert later.calls == 0 and after.raw == before.raw
    assert (after.status, after.method) == ("ok", "constrained") and after.verdict_text.startswith("Rating: [[")
    (tmp_path / "fresh").mkdir()
    [fresh] = judge(tmp_path / "fresh", spec).run([RATE])  # scored with its reply, on the reply's cache
    assert fresh.raw == before.raw and fresh.verdict_text == after.verdict_text
    assert list(fresh.choice_logprobs.values()) == pytest.approx(list(after.choice_logprobs.values()), abs=1e-4)


OLD_SCHEMA = """CREATE TABLE judgments (key TEXT PRIMARY KEY, judge TEXT NOT NULL, template TEXT NOT NULL,
status TEXT NOT NULL, verdict TEXT, parser TEXT NOT NULL, raw TEXT NOT NULL, finish_reason TEXT NOT NULL,
error TEXT, attempts INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
latency_s REAL NOT NULL, updated TEXT NOT NULL)"""


def test_a_ledger_of_the_earlier_schema_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "judgments.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO judgments VALUES ('k1', 'j', 't', 'ok', '7.0', 'rating@1', 'Rating: [[7]]', 'stop', "
                   "NULL, 1, 10, 5, 0.5, '2026-11-30')")
    db.close()
    with Ledger(path) as ledger:
        [row] = ledger.get(["k1"]).values()
        assert (row.verdict, row.method, row.verdict_text, row.choice_logprobs, row.raw) == (
            7.0, "free", None, None, "Rating: [[7]]")
        row.key, row.method, row.choice_logprobs = "k2", "constrained", {"7]]": -0.1}
        ledger.put([row])
    with Ledger(path) as ledger:  # opened again: nothing to migrate, both rows there
        found = ledger.get(["k1", "k2"])
        assert found["k2"].choice_logprobs == {"7]]": -0.1} and found["k1"].method == "free"


def test_an_api_judge_keeps_free_verdicts_and_sends_nothing_new(tmp_path: Path) -> None:
    with LoopbackServer(lambda body: "I think both answers are fine.") as server:
        j = judge(tmp_path, BackendSpec("openai", "judge-x", base_url=server.base_url, max_retries=0),
                  **{"parse_retries": 1})
        [entry] = j.run([RATE])
        j.close()
    assert (entry.status, entry.method, entry.verdict, entry.attempts) == ("parse_error", "free", None, 2)
    assert len(server.requests) == 2
    assert not any(k in body for body in server.requests for k in ("structured_outputs", "continue_final_message"))


def test_a_served_vllm_judge_is_asked_to_continue_its_reply_with_a_guided_choice() -> None:
    """The wire format of `vllm-serve` constrained verdicts, against a loopback server that
    answers as vLLM's structured outputs would (the real server: tests/on_vllm)."""
    from bolt_eval.backends.openai_api import OpenAIBackend

    def guided(body: dict) -> str:
        return body["structured_outputs"]["choice"][2] if "structured_outputs" in body else "free text"

    allowed = constrained.ALLOWED["arena"]
    with LoopbackServer(guided) as server:
        client = OpenAIBackend(BackendSpec("openai", "judge-x", base_url=server.base_url, max_retries=0))
        try:
            [choice] = client.choose_served([allowed.request(ARENA.messages, "B is shorter.")])
        finally:
            client.close()
    assert choice.index == 2 and constrained.verdict("arena", choice.index)[0] == "A=B"
    [body] = server.requests
    assert body["messages"][:-1] == list(ARENA.messages)
    assert body["messages"][-1] == {"role": "assistant", "content": "B is shorter.\n\nMy final verdict is: [["}
    assert (body["continue_final_message"], body["add_generation_prompt"], body["temperature"]) == (True, False, 0.0)
    assert body["structured_outputs"] == {"choice": list(allowed.choices)}


def test_expected_score_on_an_api_judge_is_refused_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="--judge-expected-score needs"):
        judge(tmp_path, BackendSpec("openai", "judge-x", base_url="http://127.0.0.1:9/v1"), expected_score=True)
    out = bolt("run", "--model", "default", "--tasks", "mt_bench", "--judge-expected-score", "--dry-run",
               "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "--judge-expected-score needs a local judge" in out.stderr


def test_expected_records_replace_grades_and_keep_other_verdicts() -> None:
    records = [{"id": "1", "outputs": [{"judgments": {
        "turn1": {"status": "ok", "verdict": 7.0, "expected": 6.5},
        "score": {"status": "ok", "verdict": {"score": 8.0, "strengths": "s"}, "expected": 7.25},
        "game1": {"status": "ok", "verdict": "A>B"},
        "turn2": {"status": "parse_error", "verdict": None}}}]}]
    [out] = constrained.expected_records(records)
    j = out["outputs"][0]["judgments"]
    assert (j["turn1"]["verdict"], j["score"]["verdict"], j["game1"]["verdict"], j["turn2"]["verdict"]) == (
        6.5, {"score": 7.25, "strengths": "s"}, "A>B", None)
    assert records[0]["outputs"][0]["judgments"]["turn1"]["verdict"] == 7.0  # copies, not edits
    assert constrained.expected_records([{"id": "1", "outputs": [{"judgments": {"g": {"status": "ok"}}}]}]) is None


def test_tables_say_how_many_verdicts_were_constrained_and_show_the_expected_grade() -> None:
    from bolt_eval.report import rows

    summary = {"task": "mt_bench", "headline": {"metric": "score", "unit": "score", "mean": 5.5, "lo": 4.0, "hi": 7.0,
                                                "n": 4},
               "coverage": {"judged": 8, "total": 8, "rate": 1.0, "by_status": {"ok": 8},
                            "by_method": {"free": 2, "constrained": 6}},
               "judge": {"model": "default", "substitute": True},
               "expected_score": {"metric": "score (expected)", "unit": "score", "mean": 5.214, "lo": 4.5, "hi": 6.0,
                                  "n": 4}}
    headline, expected = rows("m", summary, "dir")
    assert headline[2:4] == ["score", "5.50"] and headline[7] == "default (substitute) (6/8 constrained)"
    assert expected[2:5] == ["score (expected)", "5.21", "[4.50, 6.00]"]
    summary["coverage"]["by_method"] = {"free": 8, "constrained": 0}
    del summary["expected_score"]
    [only] = rows("m", summary, "dir")
    assert only[7] == "default (substitute)"


def test_the_bolt_suite_is_the_papers_five_and_a_dry_run_accounts_for_each(tmp_path: Path) -> None:
    from bolt_eval.suites import load_suite

    five = ["mt_bench", "arena_hard", "wildbench", "zebralogic", "math500"]
    suite = load_suite("bolt")
    assert [t.name for t in suite.tasks] == five and suite.judge is None  # each task's official judge
    assert suite.tasks[1].options == {"style": "both"}  # Arena-Hard v0.1 with style control, as the paper
    out = bolt("run", "--model", "default", "--suite", "bolt", "--dry-run", "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    seen = [t for line in lines for t in five
            if line.startswith(f"| {t} ") or line.startswith(f"not estimated (a run would stop here): {t}:")]
    assert sorted(seen) == sorted(five)  # estimated, or named with what to pass (offline: the hub is unreachable)
    assert "| mt_bench " in out.stdout and "| gpt-4 " in out.stdout  # its data ships in a package: always estimated
    assert not list((tmp_path / "r").glob("*/samples.jsonl"))  # nothing was generated


def test_a_run_with_expected_score_reports_the_mean_expected_grade_beside_the_headline(
        tmp_path: Path, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bolt_eval.backends import base
    from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

    built = []  # the model judges itself: one engine serves both roles
    monkeypatch.setattr(base, "build_backend", lambda spec: built.append(spec) or build_backend(spec))

    local = BackendSpec("hf", str(tiny_llama), device="cpu", context_policy="truncate")  # judge prompts > 512 tokens
    cfg = EvalConfig(tasks=[TaskSpec("mt_bench", str(Path(__file__).parents[2] / "tasks" / "mt_bench" / "smoke.jsonl"),
                                     limit=2)],
                     backend=local, sampling=SamplingParams(max_new_tokens=8), out=str(tmp_path), progress=False,
                     judge=JudgeSpec(local, params=SamplingParams(temperature=0.0, max_new_tokens=8),
                                     expected_score=True))
    [result] = evaluate(cfg)
    assert built == [local]
    s = result.summary
    assert s["coverage"]["judged"] == s["coverage"]["total"] == 4 and result.ok
    assert s["coverage"]["by_method"] == {"free": 0, "constrained": 4}
    rows = [json.loads(line) for line in (result.dir / "judgments.jsonl").read_text().splitlines()]
    judged = [j for r in rows for o in r["judgments"] for j in o.values()]
    assert all(j["method"] == "constrained" and 1.0 <= j["expected"] <= 10.0 for j in judged)
    assert s["headline"]["mean"] == pytest.approx(sum(j["verdict"] for j in judged) / 4)
    assert s["expected_score"]["metric"] == "score (expected)"
    assert s["expected_score"]["mean"] == pytest.approx(sum(j["expected"] for j in judged) / 4, abs=1e-6)
    assert result.manifest["config"]["judge"]["verdicts"] == "free, else constrained"


def test_constrained_verdicts_are_counted_even_where_the_judge_has_them_off() -> None:
    """A judge with constrained verdicts off finds, in a shared ledger, verdicts a judge with
    them on stored: the coverage says how many (it said nothing, as if all were free)."""
    from bolt_eval.judging.ledger import Entry
    from bolt_eval.judging.phase import _attach

    def entry(key: str, method: str, status: str = "ok") -> Entry:
        return Entry(key, "j", "rating@1", status, 7.0 if status == "ok" else None, "rating@1", "r", "stop", None, 1,
                     10, 5, 0.1, method=method)

    records = [{"id": "q", "outputs": [{}, {}, {}]}]
    calls = [(0, k, "single", RATE) for k in range(3)]
    entries = [entry("a", "free"), entry("b", "constrained"), entry("c", "free", "parse_error")]
    off = _attach(records, calls, entries, {}, constrain=False).coverage
    assert off["by_method"] == {"free": 1, "constrained": 1} and off["judged"] == 2
    assert "by_method" not in _attach(records, calls, entries[:1], {}, constrain=False).coverage
    assert _attach(records, calls, entries[:1], {}, constrain=True).coverage["by_method"] == {"free": 1, "constrained": 0}
