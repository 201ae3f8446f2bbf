"""Constrained verdicts on vLLM (judging/constrained.py): guided choice by structured outputs
on the offline engine, and continuation scores from `prompt_logprobs` that agree with the hf
backend's on the same default model. (Through a served model's `extra_body`: every verdict of
the served smoke suite in test_serve.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ENGINE_OPTIONS

from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.judging import constrained
from bolt_eval.judging.cost import Budget, Meter
from bolt_eval.judging.judge import Judge, JudgePrompt, JudgeSpec
from bolt_eval.judging.ledger import Ledger
from bolt_eval.types import SamplingParams

RATE = JudgePrompt("single-v1@t", ({"role": "user", "content": "Question: what is 2+3? Answer: 5.\n"
                                    "Rate the answer from 1 to 10 in the format [[rating]]."},), "rating")
ARENA = JudgePrompt("hard_prompt@t", ({"role": "user", "content": "Answer A: Paris. Answer B: Lyon.\n"
                                       "Which answer names the capital of France? Verdict label like [[A>B]]."},),
                    "arena")
REPLY = "The answer is correct and clear."


def requests() -> list:
    return [constrained.ALLOWED[p.parser].request(p.messages, REPLY) for p in (RATE, ARENA)]


def test_guided_choice_always_yields_an_allowed_verdict(engine) -> None:
    first = engine.choose(requests())
    assert [c.index for c in engine.choose(requests())] == [c.index for c in first]  # greedy: repeatable
    for choice, prompt in zip(first, (RATE, ARENA)):
        allowed = constrained.ALLOWED[prompt.parser]
        assert 0 <= choice.index < len(allowed.choices) and choice.logprobs is None
        assert constrained.verdict(prompt.parser, choice.index)[0] is not None


def test_prompt_logprob_scores_agree_with_the_hf_backend(engine) -> None:
    hf = build_backend(BackendSpec("hf", "default", device="cpu", dtype="float32"))
    try:
        expected = hf.score_choices(requests())
    finally:
        hf.close()
    got = engine.score_choices(requests())
    for g, e in zip(got, expected):
        assert g == pytest.approx(e, abs=0.05)
        assert max(range(len(g)), key=g.__getitem__) == max(range(len(e)), key=e.__getitem__)


def test_a_vllm_judge_records_constrained_verdicts(engine, tmp_path: Path) -> None:
    spec = JudgeSpec(BackendSpec("vllm", "default", dtype="float32", options=ENGINE_OPTIONS),
                     params=SamplingParams(temperature=0.0, max_new_tokens=1), expected_score=True)
    judge = Judge(spec, Ledger(tmp_path / "judgments.sqlite"), Meter.for_model("vllm", "default", {}), Budget(None))
    judge.backend._backend = engine  # the session's engine, not a second one (~40 s to start on 2 cores)
    try:
        rate, arena = judge.run([RATE, ARENA])
    finally:
        judge.backend._backend = None  # the fixture closes the engine
    for e in (rate, arena):
        assert e.status == "ok" and e.method in ("free", "constrained")
    assert "constrained" in (rate.method, arena.method)  # one token leaves no room for "[[N]]"
    assert rate.verdict in [float(g) for g in range(1, 11)]
    assert constrained.expected_grade(rate.parser, rate.choice_logprobs) is not None
