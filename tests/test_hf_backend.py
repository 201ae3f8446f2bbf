from dataclasses import replace

import pytest

from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.types import Request, SamplingParams, UserError


def requests(k, spread=1, **params):
    """k requests whose prompts grow by `spread` x "2+3 " each (more spread: more left padding)."""
    p = SamplingParams(**{"max_new_tokens": 8, **params})
    return [Request(str(i), 0, ({"role": "user", "content": "Solve " + "2+3 " * spread * i},), p) for i in range(k)]


@pytest.fixture(scope="module")
def backend(tiny_llama):
    with build_backend(BackendSpec("hf", str(tiny_llama), batch_size=3)) as b:
        yield b


def test_batched_greedy_equals_one_at_a_time(backend):
    reqs = requests(7)
    batched = [c[0] for c in backend.generate(reqs)]
    single = [backend.generate([r])[0][0] for r in reqs]
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.completion_tokens == 8 and c.finish_reason == "length" for c in batched)
    assert [c.prompt_tokens for c in batched] == [c.prompt_tokens for c in single]
    assert batched[6].prompt_tokens > batched[0].prompt_tokens


def test_n_samples_and_seeded_sampling(backend):
    reqs = requests(2, temperature=1.0, n=3, seed=7)
    out = backend.generate(reqs)
    assert [len(cs) for cs in out] == [3, 3]
    again = backend.generate(reqs)
    assert [[c.text for c in cs] for cs in out] == [[c.text for c in cs] for cs in again]


def test_n_samples_share_one_prefill_with_left_padding_positions(backend):
    """n > 1 samples continue from one prefill per prompt (its KV cache copied n times); at a
    temperature near 0 every sample must equal the greedy answer, the shortest (most padded)
    prompt included, which fails if the prefill counts positions from the padding."""
    greedy = [cs[0].text for cs in backend.generate(requests(3, spread=5, max_new_tokens=12))]
    cold = backend.generate(requests(3, spread=5, max_new_tokens=12, temperature=1e-6, n=3))
    assert [[c.text for c in cs] for cs in cold] == [[g] * 3 for g in greedy]
    rendered = [backend._render(r) for r in requests(3, spread=5)]
    assert [cs[0].prompt_tokens for cs in cold] == [len(backend.tokenizer(t, add_special_tokens=False)["input_ids"])
                                                     for t in rendered]


def test_prompts_are_prefilled_alone_in_chunks_without_their_padding(backend, monkeypatch):
    """Each prompt but its last token is prefilled on its own, PREFILL_CHUNK tokens a forward,
    into the batch's left-padded cache: the answers equal a whole-prompt prefill's, and no
    forward ever sees a padding token."""
    from bolt_eval.backends import hf

    reqs = requests(3, spread=5, max_new_tokens=10)
    whole = [cs[0].text for cs in backend.generate(reqs)]
    fed = []
    hook = backend.model.register_forward_pre_hook(lambda m, a, k: fed.append(k["input_ids"].shape), with_kwargs=True)
    monkeypatch.setattr(hf, "PREFILL_CHUNK", 4)
    try:
        chunked = [cs[0].text for cs in backend.generate(reqs)]
    finally:
        hook.remove()
    lengths = [len(backend.tokenizer(backend._render(r), add_special_tokens=False)["input_ids"]) for r in reqs]
    expected = [(1, min(4, n - 1 - start)) for n in sorted(lengths, reverse=True) for start in range(0, n - 1, 4)]
    assert chunked == whole and len(set(whole)) == 3
    assert [tuple(s) for s in fed[:len(expected)]] == expected and tuple(fed[len(expected)]) == (3, 1)


def test_greedy_n_samples_are_identical_copies(backend):
    out = backend.generate(requests(2, n=3))
    assert [len(cs) for cs in out] == [3, 3] and len({c.text for c in out[0]}) == 1


def test_stop_sequence_truncates(backend):
    free = backend.generate(requests(1, max_new_tokens=16))[0][0].text
    stop = free[3:5]
    out = backend.generate(requests(1, max_new_tokens=16, stop=(stop,)))[0][0]
    assert out.text == free[: free.find(stop)] and out.finish_reason == "stop"


def test_progress_counts_every_request(backend):
    seen = []
    backend.generate(requests(5), progress=seen.append)
    assert sum(seen) == 5 and seen == [3, 2]


def test_describe_records_weights_and_template(backend, tiny_llama):
    d = backend.describe()
    assert d["model"]["kind"] == "local" and d["model"]["location"] == str(tiny_llama)
    assert len(d["model"]["weights_sha256"]) == 64 and len(d["chat_template_sha256"]) == 64
    assert d["dtype"] == "float32"


@pytest.mark.parametrize("model, message", [
    ("./no/such/folder", "no such file or folder"),
    ("not a hub id", "no such file or folder"),
    ("some-org/some-model", "could not be loaded"),
])
def test_bad_model_names_the_fix(model, message):
    with pytest.raises(UserError, match=message):
        build_backend(BackendSpec("hf", model))


def test_a_prompt_over_the_context_fails_or_is_cut_from_the_left(tiny_llama, capsys):
    """The tiny model's context is 512 tokens; 8 are kept for the answer."""
    long = Request("long", 0, ({"role": "user", "content": "Solve 2+3 and 7*6; " * 120},), SamplingParams(max_new_tokens=8))
    short = requests(1)[0]
    with build_backend(BackendSpec("hf", str(tiny_llama), batch_size=4)) as fail:
        n = len(fail.tokenizer(fail._render(long), add_special_tokens=False)["input_ids"])
        alone = fail.generate([short])[0][0]
        failed, ok = (cs[0] for cs in fail.generate([long, short]))
    assert n > 504 and failed.finish_reason == "error" and ok.text == alone.text and ok.prompt_cut == 0
    assert failed.error == (f"turn 1: the prompt is {n} tokens, more than the 504 that fit the model's context of 512 "
                            "tokens with 8 kept for the answer: pass --context-policy truncate to cut it from the "
                            "left, or lower --max-new-tokens")
    with build_backend(BackendSpec("hf", str(tiny_llama), batch_size=4, context_policy="truncate")) as cut:
        kept, same = (cs[0] for cs in cut.generate([long, short]))  # one batch: cutting it leaves the short one whole
    assert (kept.prompt_tokens, kept.prompt_cut, kept.completion_tokens) == (504, n - 504, 8)
    assert same.text == alone.text and same.prompt_cut == 0 and same.prompt_tokens == alone.prompt_tokens
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"bolt-eval: warning: long turn 1: the prompt is {n} tokens, cut to its last 504 to fit the "
                        "model's context of 512 tokens with 8 kept for the answer (--context-policy truncate)"]


FOLLOWUP = ("\n\nRating: [[", ("1]]", "5]]", "10]]"))


def test_a_followup_is_scored_on_the_replys_cache_as_a_fresh_prefill_scores_it(backend):
    """A judge's verdict scored right after its reply (`Request.followup`), on the batch's
    cache, equals `_score` (a fresh prefill of the whole text), under left padding and where
    a stop string cut the reply's text short of its generated tokens; a request without a
    followup, or with n > 1 samples, gets none."""
    free = backend.generate(requests(1, max_new_tokens=12))[0][0].text
    reqs = [replace(r, followup=FOLLOWUP) for r in requests(3, spread=5, max_new_tokens=12)]
    reqs[1] = replace(reqs[1], followup=None)
    stopped = replace(reqs[0], params=replace(reqs[0].params, stop=(free[4:7],)))
    sampled = replace(reqs[2], params=replace(reqs[2].params, temperature=1.0, n=2))
    out = [cs[0] for cs in backend.generate(reqs + [stopped, sampled])]
    assert out[3].finish_reason == "stop" and out[3].text == free[:free.find(free[4:7])]
    for r, c in ((reqs[0], out[0]), (reqs[2], out[2]), (stopped, out[3])):
        expected = backend._score(backend._render(r) + c.text + FOLLOWUP[0], FOLLOWUP[1])
        assert c.followup_logprobs == pytest.approx(expected, abs=1e-4)
        assert len(set(round(x, 2) for x in expected)) == 3  # told apart: the comparison can fail
    assert out[1].followup_logprobs is None and out[4].followup_logprobs is None
