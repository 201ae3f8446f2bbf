"""Stage 3 by PPO (trl 1.12.0's PPOTrainer, policy_ppo.py): refused with the build command
when no environment has it; a reward that is not one classifier refused before any work;
with `.nox/ppo` (or a trl with PPO here), one iteration on the tiny Llama with the tiny
reward model: trl's logged stats finite, the policy moved, the model saved whole and
evaluated into the trajectory, the held-out reward recorded, a re-run trains nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from conftest import MATH_FIXTURE

from bolt_eval.training import policy_ppo
from bolt_eval.training.online import run
from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.training.trajectory import Trajectory
from bolt_eval.types import UserError

HAVE_PPO = policy_ppo.trl_has_ppo() or (policy_ppo.PPO_ENV / "bin" / "python").is_file()


def _recipe(tmp_path: Path, policy: Path, reward_model: Path, reward: list | None = None, **online) -> Path:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Solve {i} + {i + 3} step by step."}) + "\n"
                            for i in range(2)))
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"id": f"h{i}", "prompt": f"Think: {i} * 7?"}) + "\n" for i in range(2)))
    recipe = {
        "name": "t", "output_dir": str(tmp_path / "out"), "model": str(policy), "thoughts": "none",
        "eval": {"tasks": [{"name": "math500", "data": str(MATH_FIXTURE), "limit": 1}], "max_new_tokens": 8,
                 "mode": "inline"},
        "reward": reward or [{"kind": "classifier", "model": {"model": str(reward_model), "device": "cpu"}}],
        "online": {"algorithm": "ppo", "init": str(policy), "iterations": 1, "prompts": [{"path": str(data)}],
                   "held_out": [{"path": str(held)}], "n": 2, "max_new_tokens": 8, "batch_size": 2,
                   "learning_rate": 1e-3, "epochs": 1, "warmup_ratio": 0.0, "logging_steps": 1, "device": "cpu",
                   "beta": 0.05, **online},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_refused_with_the_build_command_when_no_environment_has_ppo(tmp_path, tiny_llama, tiny_reward_model,
                                                                    monkeypatch):
    monkeypatch.setattr(policy_ppo, "trl_has_ppo", lambda: False)
    monkeypatch.setattr(policy_ppo, "PPO_ENV", tmp_path / "no-env")
    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model))
    with pytest.raises(UserError, match=r"trl 1\.16 no longer has.*`nox -s ppo --install-only`"):
        run(recipe, progress=False)
    assert not (tmp_path / "out" / "online").exists()


@pytest.mark.parametrize("reward, message", [
    ([{"kind": "verifier"}], r"reward\[0\] is a verifier reward; trl's PPOTrainer takes one reward model"),
    ([{"kind": "classifier"}, {"kind": "format"}], r"reward\[1\] is a format reward"),
    ([{"kind": "classifier", "weight": 2.0}], "exactly one classifier component with weight 1.0"),
])
def test_a_reward_that_is_not_one_classifier_is_refused(tmp_path, tiny_llama, tiny_reward_model, reward, message):
    for comp in reward:
        if comp["kind"] == "classifier":
            comp["model"] = {"model": str(tiny_reward_model)}
    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model, reward))
    with pytest.raises(UserError, match=message):
        run(recipe, progress=False)
    assert not (tmp_path / "out" / "online").exists()


@pytest.mark.skipif(not HAVE_PPO, reason="PPO runs in its own environment: build it with `nox -s ppo --install-only`")
def test_a_ppo_iteration_trains_saves_and_is_evaluated(tmp_path, tiny_llama, tiny_reward_model):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model))
    table = run(recipe, progress=False)
    it = tmp_path / "out" / "online" / "iter-1"
    manifest = json.loads((it / "manifest.json").read_text())
    assert manifest["status"] == "complete" and "| 1 | ppo |" in table
    args = manifest["trainer_args"]
    assert args["class"] == "trl.experimental.ppo.PPOConfig"
    assert (args["kl_coef"], args["learning_rate"], args["response_length"]) == (0.05, 1e-3, 8)
    assert (args["total_episodes"], args["num_total_batches"]) == (4, 2)  # 2 prompts x n 2, batch 2
    assert manifest["ppo_environment"]["trl"] == "1.12.0"
    assert manifest["ppo_environment"]["value_model_from"] == "reward model"
    training = manifest["training"]
    assert training["steps"] == 2
    for key in ("objective/kl", "objective/scores", "loss/policy_avg", "loss/value_avg", "policy/approxkl_avg"):
        assert math.isfinite(training[key]), key
    assert training["loss/value_avg"] > 0
    # the policy moved, and the saved model loads and generates
    before = load_file(str(tiny_llama / "model.safetensors"))
    after = load_file(str(it / "final" / "model.safetensors"))
    assert before.keys() == after.keys()
    assert max(float((after[k] - before[k]).abs().max()) for k in before) > 1e-4
    model = AutoModelForCausalLM.from_pretrained(it / "final")
    assert model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=2, do_sample=False).shape == (1, 5)
    assert model.generation_config.eos_token_id == AutoModelForCausalLM.from_pretrained(
        tiny_llama).generation_config.eos_token_id
    assert not (it / "final.partial").exists()
    # evaluated into the trajectory, held-out reward recorded
    labels = [e["label"] for e in Trajectory(tmp_path / "out").entries()]
    assert labels[-1] == "t/online/iter-1" and manifest["evaluation"]["label"] == "t/online/iter-1"
    assert math.isfinite(manifest["held_out_reward"]["reward"]["mean"])
    # a finished stage is not trained again
    again = run(recipe, progress=False)
    assert again == "online: complete with this configuration, skipped\n" + table
    assert json.loads((it / "manifest.json").read_text())["seconds"] == manifest["seconds"]
