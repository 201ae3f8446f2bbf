"""The offline vLLM engine with the default model: sampling semantics, accounting, provenance."""

from __future__ import annotations

import hashlib

from conftest import ENGINE_OPTIONS

from bolt_eval.types import Request, SamplingParams


def ask(engine, text: str, sample_id: str = "q", **params) -> list:
    [outs] = engine.generate([Request(sample_id, 0, ({"role": "user", "content": text},), SamplingParams(**params))])
    return outs


def test_greedy_is_repeatable_and_tokens_are_counted(engine) -> None:
    [a] = ask(engine, "Name three colours.", max_new_tokens=8)
    [b] = ask(engine, "Name three colours.", max_new_tokens=8)
    assert a.text == b.text and a.text.strip()
    assert (a.finish_reason, a.completion_tokens) == ("length", 8)
    assert a.prompt_tokens > 5


def test_each_request_has_its_own_seed_and_n_samples_differ(engine) -> None:
    story = dict(temperature=1.0, max_new_tokens=24)
    first = ask(engine, "Tell me a story.", "a", **story)[0].text
    other = ask(engine, "Tell me a story.", "b", **story)[0].text
    assert first != other  # one shared seed would draw the same tokens for the same prompt
    assert ask(engine, "Tell me a story.", "a", **story)[0].text == first  # and re-runs repeat
    many = ask(engine, "Tell me a story.", "c", n=4, **story)
    assert len(many) == 4 and len({c.text for c in many}) >= 3


def test_stop_sequence_cuts_the_answer(engine) -> None:
    [full] = ask(engine, "Explain what a prime number is.", max_new_tokens=48)
    word = full.text.split()[3]
    [cut] = ask(engine, "Explain what a prime number is.", max_new_tokens=48, stop=(word,))
    assert cut.text == full.text[:full.text.index(word)]
    assert cut.finish_reason == "stop"


def test_provenance_names_engine_dtype_and_chat_template(engine) -> None:
    from transformers import AutoTokenizer

    from bolt_eval.models import default_model_dir

    template = AutoTokenizer.from_pretrained(default_model_dir()).chat_template
    info = engine.describe()
    assert info["backend"] == "vllm" and info["vllm"] == __import__("vllm").__version__
    assert info["dtype"] == "float32" and info["engine_options"] == ENGINE_OPTIONS
    assert info["chat_template_sha256"] == hashlib.sha256(template.encode()).hexdigest()
    assert len(info["model"]["weights_sha256"]) == 64


def test_a_prompt_over_the_context_fails_its_sample_or_is_cut(engine) -> None:
    long = ({"role": "user", "content": "word " * 3000},)  # over 2048 tokens
    short = ({"role": "user", "content": "Say hi."},)
    params = SamplingParams(max_new_tokens=8)
    [failed], [fine] = engine.generate([Request("long", 0, long, params), Request("short", 0, short, params)])
    assert failed.finish_reason == "error"
    assert "more than the 2040 that fit the model's context of 2048 tokens" in failed.error
    assert fine.error is None and fine.text  # the rest of the batch is answered
    engine.policy = "truncate"
    try:
        [[cut]] = engine.generate([Request("long", 0, long, params)])
    finally:
        engine.policy = "fail"
    assert cut.error is None and cut.prompt_tokens == 2040 and cut.prompt_cut > 900
