"""Reward models on real components: the tiny classifier, a judge behind a real loopback
OpenAI-compatible server and the ledger, the harness's exact scorers, the format rule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from openai_server import Fault, LoopbackServer

from bolt_eval.training.recipe import Recipe
from bolt_eval.training.rewards import RewardItem, build_reward
from bolt_eval.types import UserError

THINK = "<internal_thoughts>{}</internal_thoughts><external_solution>{}</external_solution>"
MATH_ROW = {"problem": "What is 1/4 + 1/4?", "answer": "\\frac{1}{2}", "subject": "Prealgebra", "level": 1,
            "unique_id": "test/prealgebra/1.json"}
ZEBRA_ROW = {"id": "z-2x2", "size": "2*2", "puzzle": "Two houses. Clues: 1. Alice is in the red house.",
             "solution": {"header": ["House", "Name", "Color"], "rows": [["1", "Alice", "Red"], ["2", "Bob", "Blue"]]}}


def recipe(tmp_path: Path, *components: dict) -> Recipe:
    r = Recipe.model_validate({"name": "t", "output_dir": str(tmp_path / "out"), "model": "default",
                               "reward": list(components)})
    r.source = "test.yaml"
    return r


def item(key: str, solution: str, thoughts: str = "Let me think.", prompt: str = "What is 1/4 + 1/4?",
         reference: dict | None = None, finish: str = "stop") -> RewardItem:
    return RewardItem(key, prompt, THINK.format(thoughts, solution), finish, reference)


# --- classifier -------------------------------------------------------------------------

def classifier(tmp_path: Path, model: Path, **kw) -> dict:
    return {"kind": "classifier", "model": {"model": str(model), "device": "cpu"}, **kw}


def test_classifier_batched_scores_equal_one_at_a_time(tmp_path, tiny_reward_model):
    items = [item(f"q{i}", "The answer is " + "one half " * i, prompt=f"Question {i}: " + "why? " * (7 - i))
             for i in range(7)]
    batched = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model, batch_size=4)))
    single = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model, batch_size=1)))
    a, b = batched.score(items), single.score(items)
    assert len({round(r.value, 4) for r in a}) == 7  # real, distinct scores
    for x, y in zip(a, b):
        assert x.value == pytest.approx(y.value, abs=1e-5)
        assert x.parts == {"classifier": x.value} and x.error is None and x.notes == {}


def test_classifier_reads_only_the_external_solution(tmp_path, tiny_reward_model):
    rm = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model)))
    a, b, c = rm.score([item("a", "Half.", thoughts="short"), item("b", "Half.", thoughts="a much longer thought " * 5),
                        item("c", "A third.", thoughts="short")])
    assert a.value == pytest.approx(b.value, abs=1e-6)
    assert a.value != pytest.approx(c.value, abs=1e-4)


def test_classifier_cuts_a_long_prompt_from_the_left_and_says_so(tmp_path, tiny_reward_model):
    from transformers import AutoTokenizer

    long_prompt = " ".join(f"step{i}" for i in range(200))
    rm = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model, max_length=64)))
    described = rm.describe()
    [r] = rm.score([item("long", "Half.", prompt=long_prompt)])
    assert rm.describe() == described  # what manifests record does not change once the model is loaded
    cut = r.notes["classifier"]["prompt_tokens_cut"]
    tok = AutoTokenizer.from_pretrained(tiny_reward_model)
    ids = tok(long_prompt, add_special_tokens=False)["input_ids"]
    assert 0 < cut < len(ids)
    kept = tok.decode(ids[cut:])
    assert long_prompt.endswith(kept.strip()) and "step199" in kept
    conversation = tok.apply_chat_template([{"role": "user", "content": kept}, {"role": "assistant", "content": "Half."}],
                                           tokenize=False)
    assert len(tok(conversation, add_special_tokens=False)["input_ids"]) <= 64
    # the same score as the cut prompt given whole to a model with room for it
    roomy = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model)))
    [same, context] = roomy.score([item("cut", "Half.", prompt=kept), item("long", "Half.", prompt=long_prompt)])
    assert r.value == pytest.approx(same.value, abs=1e-5) and same.notes == {}
    # the recipe's max_length (4096 by default) is held to the model's context (512 here)
    assert len(ids) > 512 and 0 < context.notes["classifier"]["prompt_tokens_cut"] < cut
    # a solution that cannot fit even without the prompt is a failure, not a score
    [lost] = rm.score([item("huge", "half " * 200)])
    assert lost.value is None and "classifier: the solution alone is over max_length 64" in lost.error


def test_classifier_load_errors_name_the_model_and_the_fix(tmp_path, tiny_llama, tiny_reward_model):
    with pytest.raises(UserError, match=r"test.yaml: reward\[0\] \(classifier\).*no such file"):
        build_reward(recipe(tmp_path, classifier(tmp_path, tmp_path / "missing")))
    causal = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_llama)))
    with pytest.raises(UserError, match="is not a reward model: its checkpoint has no classification head"):
        causal.preflight()
    with pytest.raises(UserError, match="key 'model' missing"):
        build_reward(recipe(tmp_path, {"kind": "classifier"}))
    described = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model))).describe()
    [comp] = described["components"]
    assert comp["name"] == "classifier" and comp["weight"] == 1.0 and comp["trust_remote_code"] is False
    assert str(tiny_reward_model) in str(comp["model"]) and len(str(comp["model"])) > len(str(tiny_reward_model)) + 20


def test_classifier_output_kinds_model_errors_and_label_count(tmp_path, tiny_reward_model, monkeypatch):
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForSequenceClassification

    from bolt_eval.training.rewards.classifier import _scores

    # ArmoRM's remote code answers an object whose `.score` is the preference score
    armo = SimpleNamespace(score=torch.tensor([[0.25], [-1.5]]), logits=torch.zeros(2, 19))
    assert _scores(armo, 2) == [0.25, -1.5]
    assert _scores(SimpleNamespace(logits=torch.tensor([[2.0], [3.0]])), 2) == [2.0, 3.0]

    rm = build_reward(recipe(tmp_path, classifier(tmp_path, tiny_reward_model)))
    rm.preflight()

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")

    monkeypatch.setattr(rm.components[0].model, "forward", out_of_memory)
    results = rm.score([item("a", "Half."), item("b", "Two.")])
    assert [r.value for r in results] == [None, None]
    assert results[0].error == "classifier: model error (RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB)"

    config = AutoConfig.from_pretrained(tiny_reward_model)
    config.num_labels = 2
    LlamaForSequenceClassification(config).save_pretrained(tmp_path / "two")
    AutoTokenizer.from_pretrained(tiny_reward_model).save_pretrained(tmp_path / "two")
    with pytest.raises(UserError, match="has num_labels=2; a reward model has one output"):
        build_reward(recipe(tmp_path, classifier(tmp_path, tmp_path / "two"))).preflight()


# --- judge ----------------------------------------------------------------------------

def grade_by_content(body: dict) -> str:
    text = body["messages"][-1]["content"]
    answer = text.split("[The Start of Assistant's Answer]\n")[1]
    if "mute" in answer:
        return "I would rather not put a number on this."
    return "Clear and right. Rating: [[8]]" if "half" in answer else "Wrong. Rating: [[3]]"


def judge_recipe(tmp_path: Path, server: LoopbackServer, **kw) -> Recipe:
    return recipe(tmp_path, {"kind": "judge", "model": {"model": "judge-x", "backend": "openai",
                                                        "base_url": server.base_url}, **kw})


def test_judge_grades_the_solution_through_the_ledger(tmp_path):
    items = [item("good", "It is one half.", thoughts="SECRET THOUGHT"), item("bad", "It is 2.")]
    with LoopbackServer(grade_by_content) as server:
        rm = build_reward(judge_recipe(tmp_path, server))
        rm.preflight()
        good, bad = rm.score(items)
        rm.close()
        assert good.value == pytest.approx(7 / 9) and bad.value == pytest.approx(2 / 9)
        assert good.parts == {"judge": pytest.approx(7 / 9)} and good.error is None
        assert len(server.requests) == 2
        assert all("SECRET THOUGHT" not in m["content"] for r in server.requests for m in r["messages"])
        assert "What is 1/4 + 1/4?" in server.requests[0]["messages"][-1]["content"]
        assert (tmp_path / "out" / "judgments.sqlite").is_file()
        again = build_reward(judge_recipe(tmp_path, server))
        assert [r.value for r in again.score(items)] == [good.value, bad.value]
        assert len(server.requests) == 2  # the re-run paid nothing
    [comp] = again.describe()["components"]
    assert comp["template"].startswith("reward-judge@") and len(comp["template_sha256"]) == 64
    assert comp["template_source"] == "project:training/templates/reward-judge.txt"


def test_a_reply_without_a_grade_is_a_failure_not_zero(tmp_path):
    with LoopbackServer(grade_by_content) as server:
        rm = build_reward(judge_recipe(tmp_path, server))
        [r] = rm.score([item("m", "mute")])
        assert r.value is None and r.parts == {"judge": None}
        assert r.error.startswith("judge: judge parse_error after 3 call(s)")  # the engine asked twice more
        assert len(server.requests) == 3


def test_an_api_error_is_a_failure_and_is_asked_again_next_time(tmp_path, monkeypatch):
    items = [item("ok", "It is one half."), item("poison", "It is one half, poison.")]
    with LoopbackServer(grade_by_content) as server:
        server.plan = lambda body: Fault(400) if "poison" in body["messages"][-1]["content"] else None
        first = build_reward(judge_recipe(tmp_path, server)).score(items)
        assert first[0].value == pytest.approx(7 / 9)
        assert first[1].value is None and first[1].error.startswith("judge: judge api_error after 1 call(s) (BadRequestError")
        server.plan = None
        second = build_reward(judge_recipe(tmp_path, server)).score(items)
        assert [r.value for r in second] == [pytest.approx(7 / 9)] * 2
        assert len(server.requests) == 3  # only the failed judgment was asked again
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    hosted = recipe(tmp_path, {"kind": "judge", "model": {"model": "gpt-4o-mini", "backend": "openai"}})
    with pytest.raises(UserError, match="needs an API key: set the environment variable OPENAI_API_KEY"):
        build_reward(hosted).preflight()


def test_judge_template_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Grade this: {solution}")
    with LoopbackServer(grade_by_content) as server:
        with pytest.raises(UserError, match=r"bad.txt: a reward-judge template has exactly the slots .*found \{solution\}"):
            build_reward(judge_recipe(tmp_path, server, template=str(bad)))
        with pytest.raises(UserError, match=r"reward\[0\] \(judge\): key 'template': cannot read"):
            build_reward(judge_recipe(tmp_path, server, template=str(tmp_path / "none.txt")))


# --- verifier --------------------------------------------------------------------------

def test_verifier_scores_math_and_zebra_exactly(tmp_path):
    rm = build_reward(recipe(tmp_path, {"kind": "verifier"}))
    math = {"task": "math500", "row": MATH_ROW}
    zebra = {"task": "zebralogic", "row": ZEBRA_ROW}
    three_of_four = '{"solution": {"House 1": {"Name": "Alice", "Color": "Red"}, "House 2": {"Name": "Bob", "Color": "Green"}}}'
    four_of_four = '{"solution": {"House 1": {"Name": "alice", "Color": "Red"}, "House 2": {"Name": "Bob", "Color": "Blue"}}}'
    results = rm.score([
        RewardItem("m1", "q", THINK.format("t", "So the sum is $\\boxed{0.5}$."), "stop", math),
        RewardItem("m2", "q", THINK.format("\\boxed{\\frac{1}{2}}", "So it is $\\boxed{\\frac{1}{3}}$."), "stop", math),
        RewardItem("z1", "q", THINK.format("t", three_of_four), "stop", zebra),
        RewardItem("z2", "q", THINK.format("t", four_of_four), "stop", zebra),
        RewardItem("z3", "q", THINK.format("t", "I cannot solve it."), "stop", zebra),
        RewardItem("none", "q", THINK.format("t", "\\boxed{1/2}"), "stop", None),
        RewardItem("judged", "q", THINK.format("t", "x"), "stop", {"task": "mt_bench", "row": {}}),
        RewardItem("broken", "q", THINK.format("t", "x"), "stop", {"task": "zebralogic", "row": {"id": "b"}}),
    ])
    assert [r.value for r in results[:5]] == [1.0, 0.0, 0.75, 1.0, 0.0]  # m2: the boxed 1/2 in thoughts is not read
    assert [r.value for r in results[5:]] == [None, None, None]
    assert "verifier: no reference to verify against" in results[5].error
    assert "'mt_bench' has no exact scorer" in results[6].error
    assert "reference of broken: missing field 'size'" in results[7].error


# --- weights, failures, format -----------------------------------------------------------

def test_weights_combine_and_a_failed_part_fails_the_reward(tmp_path):
    rm = build_reward(recipe(tmp_path, {"kind": "verifier", "weight": 1.0}, {"kind": "format", "weight": 0.5}))
    math = {"task": "math500", "row": MATH_ROW}
    seen = []
    right, unformatted, wrong, unverifiable = rm.score([
        RewardItem("a", "q", THINK.format("t", "\\boxed{1/2}"), "stop", math),
        RewardItem("b", "q", "\\boxed{1/2}", "stop", math),
        RewardItem("c", "q", THINK.format("t", "\\boxed{2}"), "stop", math),
        RewardItem("d", "q", THINK.format("t", "\\boxed{2}"), "stop", None),
    ], progress=seen.append)
    assert (right.value, right.parts) == (1.5, {"verifier": 1.0, "format": 1.0})
    assert (unformatted.value, unformatted.notes) == (1.0, {"format": {"reason": "no_thoughts"}})
    assert wrong.value == 0.5
    assert unverifiable.value is None and unverifiable.parts == {"verifier": None, "format": 1.0}
    assert unverifiable.error.startswith("verifier: no reference")
    assert seen == [4]
    assert unverifiable.to_dict()["parts"] == {"verifier": None, "format": 1.0}


def test_format_rules_and_names_of_repeated_kinds(tmp_path):
    r = recipe(tmp_path, {"kind": "format", "weight": 2.0, "rules": {"min_solution_chars": 50}},
               {"kind": "format", "weight": 1.0})
    rm = build_reward(r)
    [x] = rm.score([item("a", "Short.", finish="length")])
    assert x.parts == {"format_0": 0.0, "format_1": 0.0}
    assert x.notes == {"format_0": {"reason": "hit_token_limit"}, "format_1": {"reason": "hit_token_limit"}}
    [y] = rm.score([item("b", "Short.")])
    assert (y.value, y.notes) == (1.0, {"format_0": {"reason": "solution_too_short"}})
    assert [c["rules"]["min_solution_chars"] for c in rm.describe()["components"]] == [50, 1]
    r.thoughts = "none"
    with pytest.raises(UserError, match=r"reward\[0\] \(format\): the format reward needs a thoughts preset"):
        build_reward(r)
