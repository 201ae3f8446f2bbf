"""RLOO and REINFORCE (trl's RLOOTrainer / GRPOTrainer) for a few steps on the tiny Llama
with a callable reward: trl's logged reward is the mean of what the callable returned (a
None left out), the KL reference is the folder named, and the policy moves."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bolt_eval.training.policy_rl import rl_config, summarize_log, train_rl
from bolt_eval.training.recipe import OnlineConfig
from bolt_eval.types import UserError


def _perturbed_copy(src: Path, dst: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src)
    torch.manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(dst)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return dst


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.parametrize("algorithm,perturb_ref", [("rloo", False), ("reinforce", True)])
def test_rl_runs_a_few_steps_with_a_callable_reward(tmp_path, tiny_llama, algorithm, perturb_ref):
    steps: list[list[float | None]] = []

    def reward(prompts, completions, completion_ids, prompt_id, reference, **kw):
        assert len(completions) == 4 and prompt_id[0] == prompt_id[1] and reference[0] == '"r"'
        values = [sum(ids) % 7 / 7 for ids in completion_ids]  # varies with the tokens drawn
        if not steps:
            values[0] = None  # a failed reward
        steps.append(values)
        return values

    rows = [{"prompt": [{"role": "user", "content": f"Solve {i}+3"}], "prompt_id": f"q{i}", "reference": '"r"'}
            for i in range(4)]
    settings = OnlineConfig(algorithm=algorithm, n=2, batch_size=4, max_new_tokens=8, epochs=1, learning_rate=1e-2,
                            beta=0.1, logging_steps=1, device="cpu", warmup_ratio=0.0)
    reference = _perturbed_copy(tiny_llama, tmp_path / "ref") if perturb_ref else tiny_llama
    final = tmp_path / "final"
    history, resumed = train_rl(algorithm, tiny_llama, reference, rows, [reward], settings, tmp_path / "work", final, seed=0,
                       progress=False)

    assert resumed is None and not (tmp_path / "final.partial").exists()
    logged = [h for h in history if "reward" in h]
    assert len(steps) == 2 and len(logged) == 2
    for values, h in zip(steps, logged):
        valid = [v for v in values if v is not None]
        assert h["reward"] == pytest.approx(sum(valid) / len(valid), abs=1e-5)
    first_kl = logged[0]["kl"]
    assert (first_kl != 0) if perturb_ref else (first_kl == pytest.approx(0.0, abs=1e-6))
    before, after = _weights(tiny_llama), _weights(final)
    assert any(not bool((before[k] == after[k]).all()) for k in before)
    summary = summarize_log(history)
    assert summary["steps"] == 2 and math.isfinite(summary["loss"])
    assert summary["last"]["reward"] == logged[-1]["reward"]  # where training ended, beside the mean


def test_a_step_must_hold_whole_groups(tmp_path):
    settings = OnlineConfig(algorithm="rloo", n=4, batch_size=2, device="cpu")
    with pytest.raises(UserError, match="online.batch_size to a multiple of 4"):
        rl_config("rloo", settings, tmp_path, 0, False)


def test_reinforce_is_grpo_without_std_scaling_on_policy(tmp_path):
    config = rl_config("reinforce", OnlineConfig(n=2, batch_size=2, device="cpu"), tmp_path, 0, False)
    assert type(config).__name__ == "GRPOConfig"
    assert (config.scale_rewards, config.loss_type, config.num_iterations) == ("none", "dr_grpo", 1)
    assert config.steps_per_generation == config.gradient_accumulation_steps


def test_a_relative_deepspeed_config_resolves_as_stage_2_resolves_it(tmp_path, monkeypatch):
    from bolt_eval.training import recipe
    from bolt_eval.training.policy_rl import trainer_args

    shipped = tmp_path / "repo" / "training" / "ds" / "zero3.json"
    shipped.parent.mkdir(parents=True)
    shipped.write_text('{"zero_optimization": {"stage": 3}}')
    monkeypatch.setattr(recipe, "REPO_ROOT", tmp_path / "repo")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # not the checkout: the config is found in bolt-eval's own repository
    args = trainer_args(OnlineConfig(deepspeed="training/ds/zero3.json", device="cpu"), tmp_path / "out", 0, False)
    assert args["deepspeed"] == str(shipped)
    assert trainer_args(OnlineConfig(device="cpu"), tmp_path / "out", 0, False)["deepspeed"] is None


def test_an_accelerate_config_named_as_deepspeed_is_refused():
    """transformers reads `deepspeed` as DeepSpeed's own JSON; the shipped accelerate YAML
    belongs on the launch line (the Sky-T1 recipes named it here: a crash on the GPU node)."""
    with pytest.raises(ValueError, match="goes on the launch line"):
        OnlineConfig(deepspeed="training/accelerate/deepspeed_zero3.yaml")
