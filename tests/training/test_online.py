"""Stage 3 end to end on the tiny Llama with the tiny reward model: one DPO iteration moves
the policy's log-prob margin of chosen over rejected up; a kill during sampling or during
training resumes with nothing sampled twice; a finished iteration is skipped (PPO: test_ppo.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bolt_eval.training.online import run, summary_table
from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.types import UserError


def _recipe(tmp_path: Path, tiny_llama: Path, tiny_reward_model: Path, prompts: int = 6, **online) -> Path:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Solve {i} + {i + 3} step by step."}) + "\n"
                            for i in range(prompts)))
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"id": f"h{i}", "prompt": f"Think: {i} * 7?"}) + "\n" for i in range(2)))
    recipe = {
        "name": "t", "output_dir": str(tmp_path / "out"), "model": str(tiny_llama), "thoughts": "none",
        "eval": {"mode": "off"},
        "reward": [{"kind": "classifier", "model": {"model": str(tiny_reward_model), "device": "cpu"}}],
        "online": {"init": str(tiny_llama), "iterations": 1, "prompts": [{"path": str(data)}],
                   "held_out": [{"path": str(held)}], "n": 4, "max_new_tokens": 8, "batch_size": 2,
                   "learning_rate": 5e-3, "epochs": 1, "warmup_ratio": 0.0, "logging_steps": 1, "device": "cpu",
                   "max_length": 128, **online},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _margins(model_dir: Path, rows: list[dict]) -> list[float]:
    """log pi(chosen|prompt) - log pi(rejected|prompt) under the model, per pair."""
    return [c - r for c, r in _logps(model_dir, rows)]


def _logps(model_dir: Path, rows: list[dict]) -> list[tuple[float, float]]:
    """(log pi(chosen|prompt), log pi(rejected|prompt)) under the model, per pair."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()

    def logp(prompt: str, answer: str) -> float:
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        a = tok(answer + tok.eos_token, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + a])
        with torch.no_grad():
            logits = model(ids).logits[0, :-1].log_softmax(-1)
        return float(logits[len(p) - 1:].gather(1, ids[0, len(p):, None]).sum())

    out = []
    for r in rows:
        prompt = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        out.append((logp(prompt, r["chosen"][0]["content"]), logp(prompt, r["rejected"][0]["content"])))
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_one_dpo_iteration_raises_the_margin_and_is_skipped_when_done(tmp_path, tiny_llama, tiny_reward_model):
    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model))
    table = run(recipe, progress=False)
    it = tmp_path / "out" / "online" / "iter-1"
    manifest = json.loads((it / "manifest.json").read_text())
    pairs = _lines(it / "pairs.jsonl")
    assert manifest["status"] == "complete" and manifest["sampling"] == {"prompts": 6, "generated": 6, "resumed": 0}
    assert manifest["pairs"]["groups"] == 6 and manifest["pairs"]["pairs"] == len(pairs) > 0
    assert manifest["reference"]["model"] == str(tiny_llama) and manifest["trainer_args"]["beta"] == 0.1
    assert all(r["chosen_reward"] > r["rejected_reward"] for r in pairs)
    before, after = _margins(tiny_llama, pairs), _margins(it / "final", pairs)
    assert sum(after) / len(after) > sum(before) / len(before)
    stage = json.loads((tmp_path / "out" / "online" / "manifest.json").read_text())
    assert stage["status"] == "complete" and set(stage["held_out_reward"]) == {"0", "1"}
    assert stage["held_out_reward"]["0"]["reward"]["samples"] == 8  # 2 held-out prompts x 4
    # unset later fields stay out of the hash: folders made before them still match
    assert not {"held_out_n", "nll_weight"} & set(stage["config"]["online"])
    assert manifest["trainer_args"]["loss_type"] == ["sigmoid"]  # the paper's loss alone
    h0, h1 = stage["held_out_reward"]["0"]["reward"], stage["held_out_reward"]["1"]
    assert h1["delta_vs_start"]["n"] == 2 and h1["delta_vs_start"] == h1["delta_vs_previous"]
    assert h1["delta_vs_start"]["mean"] == pytest.approx(h1["reward"]["mean"] - h0["mean"], abs=1e-5)
    assert "| 1 | dpo |" in table
    # a re-run finds the stage finished: nothing sampled, nothing trained, same table
    path = _recipe(tmp_path, tiny_llama, tiny_reward_model)
    mtime = (it / "final" / "model.safetensors").stat().st_mtime
    assert run(load_recipe(path), progress=False) == "online: complete with this configuration, skipped\n" + table
    # one more iteration: iteration 1 is skipped, iteration 2 starts from its model
    longer = run(load_recipe(path, ["online.iterations=2"]), progress=False)
    assert longer.startswith(table) and "| 2 | dpo |" in longer
    assert (it / "final" / "model.safetensors").stat().st_mtime == mtime
    assert len(_lines(it / "samples.jsonl")) == 6
    second = json.loads((it.parent / "iter-2" / "manifest.json").read_text())
    assert second["policy_from"] == str(it / "final") and second["reference"]["model"] == str(tiny_llama)
    # another configuration over these iterations is refused, nothing touched
    with pytest.raises(UserError, match="another stage-3 configuration"):
        run(load_recipe(path, ["online.beta=0.2"]), progress=False)


def test_held_out_prompts_get_their_own_sample_count(tmp_path, tiny_llama, tiny_reward_model):
    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model, prompts=2, held_out_n=2))
    run(recipe, progress=False)
    online = tmp_path / "out" / "online"
    stage = json.loads((online / "manifest.json").read_text())
    assert stage["config"]["online"]["held_out_n"] == 2
    assert [len(r["samples"]) for r in _lines(online / "held-out" / "iter-0.samples.jsonl")] == [2, 2]
    assert stage["held_out_reward"]["1"]["reward"]["samples"] == 4
    assert [len(r["samples"]) for r in _lines(online / "iter-1" / "samples.jsonl")] == [4, 4]  # online.n


def test_nll_weight_adds_the_chosen_answers_nll_and_raises_their_likelihood(tmp_path, tiny_llama, tiny_reward_model):
    run(load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model, nll_weight=1.0)), progress=False)
    it = tmp_path / "out" / "online" / "iter-1"
    manifest = json.loads((it / "manifest.json").read_text())
    assert manifest["trainer_args"]["loss_type"] == ["sigmoid", "sft"]
    assert manifest["trainer_args"]["loss_weights"] == [1.0, 1.0]
    pairs = _lines(it / "pairs.jsonl")
    before, after = _logps(tiny_llama, pairs), _logps(it / "final", pairs)
    assert sum(c for c, _ in after) > sum(c for c, _ in before)  # the chosen answers more likely than at the start
    assert sum(a[0] - a[1] for a in after) > sum(b[0] - b[1] for b in before)  # and the margin still up


def _run_until(recipe: Path, ready, timeout: float = 300.0) -> None:
    """Start `bolt-eval train online` and SIGKILL it the moment `ready()` is true."""
    proc = subprocess.Popen([sys.executable, "-m", "bolt_eval.cli", "train", "online", "--recipe", str(recipe),
                             "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"finished before the kill: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < end, "the moment to kill never came"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_during_sampling_then_resume_samples_nothing_twice(tmp_path, tiny_llama, tiny_reward_model):
    # groups of 2 prompts per generate call (one seed each), so the kill lands between groups
    generator = {"model": str(tiny_llama), "backend": "hf", "batch_size": 2, "device": "cpu"}
    path = _recipe(tmp_path, tiny_llama, tiny_reward_model, prompts=8, max_new_tokens=16, held_out=[],
                   generator=generator)
    journal = tmp_path / "out" / "online" / "iter-1" / "samples.jsonl"
    _run_until(path, lambda: journal.exists() and journal.read_text().count("\n") >= 2)
    kept = len(_lines(journal))
    assert 2 <= kept < 8
    run(load_recipe(path), progress=False)
    manifest = json.loads((journal.parent / "manifest.json").read_text())
    assert manifest["sampling"] == {"prompts": 8, "generated": 8 - kept, "resumed": kept}
    keys = [r["key"] for r in _lines(journal)]
    assert sorted(keys) == sorted(f"q{i}" for i in range(8))  # each prompt once: nothing sampled twice
    seeds = {r["key"]: r["seed"] for r in _lines(journal)}
    assert all(seeds[f"q{i}"] == seeds[f"q{i + 1}"] != seeds[f"q{i + 2}"] for i in (0, 2, 4))  # one seed per group


def test_kill_during_training_then_resume_from_the_checkpoint(tmp_path, tiny_llama, tiny_reward_model):
    path = _recipe(tmp_path, tiny_llama, tiny_reward_model, prompts=4, batch_size=1, save_steps=1, epochs=2,
                   held_out=[])
    trainer = tmp_path / "out" / "online" / "iter-1" / "trainer"
    _run_until(path, lambda: any((c / "trainer_state.json").exists() for c in trainer.glob("checkpoint-*")))
    samples = _lines(trainer.parent / "samples.jsonl")
    run(load_recipe(path), progress=False)
    manifest = json.loads((trainer.parent / "manifest.json").read_text())
    assert manifest["sampling"]["generated"] == 0 and manifest["scoring"]["scored"] == 0
    assert manifest["resumed_from"] and Path(manifest["resumed_from"]).name.startswith("checkpoint-")
    assert _lines(trainer.parent / "samples.jsonl") == samples
    assert manifest["training"]["steps"] == 2 * manifest["pairs"]["pairs"]
    assert not list(trainer.glob("checkpoint-*"))  # removed once the model was saved


def test_a_checkpoint_killed_while_saving_is_not_resumed_from(tmp_path, tiny_llama):
    """The Trainer writes trainer_state.json last; a kill before it leaves a folder that
    `from_pretrained` may read but `trainer.train(resume_from_checkpoint=)` rejects (the
    kill test above met one: config.json only)."""
    import shutil

    from bolt_eval.training.checkpoints import last_checkpoint

    trainer = tmp_path / "trainer"
    for step, files in ((1, ["config.json", "model.safetensors", "trainer_state.json"]),
                        (2, ["config.json", "model.safetensors"]), (3, ["config.json"])):
        (trainer / f"checkpoint-{step}").mkdir(parents=True)
        for name in files:
            shutil.copy(tiny_llama / name if name != "trainer_state.json" else tiny_llama / "config.json",
                        trainer / f"checkpoint-{step}" / name)
    assert last_checkpoint(trainer) == trainer / "checkpoint-1"
    assert last_checkpoint(tmp_path / "nothing-yet") is None


def test_missing_sft_model_names_the_fix(tmp_path, tiny_llama, tiny_reward_model):
    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model), ["online.init=null"])
    with pytest.raises(UserError, match="bolt-eval train sft --recipe"):
        run(recipe, progress=False)


def test_an_sft_stage_that_did_not_finish_is_not_started_from(tmp_path, tiny_llama, tiny_reward_model):
    import shutil

    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model), ["online.init=null"])
    sft = tmp_path / "out" / "sft"
    shutil.copytree(tiny_llama, sft / "final")  # a model is there, but the stage says it is still running
    (sft / "manifest.json").write_text(json.dumps({"stage": "sft", "status": "running"}))
    with pytest.raises(UserError, match=r"sft/manifest.json says 'running', so .*bolt-eval train sft --recipe"):
        run(recipe, progress=False)
    assert not (tmp_path / "out" / "online").exists()
    (sft / "manifest.json").unlink()
    with pytest.raises(UserError, match=r"sft/manifest.json: no such file, so .*sft/final is not a finished SFT"):
        run(recipe, progress=False)


def test_a_reward_model_changed_in_place_is_another_configuration(tmp_path, tiny_llama, tiny_reward_model):
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification

    rm = shutil.copytree(tiny_reward_model, tmp_path / "rm")
    path = _recipe(tmp_path, tiny_llama, rm, prompts=2, held_out=[])
    run(load_recipe(path), progress=False)
    stage = json.loads((tmp_path / "out" / "online" / "manifest.json").read_text())
    assert stage["config"]["reward"] == stage["reward_model"]  # what the reward resolved to, weights fingerprint too
    model = AutoModelForSequenceClassification.from_pretrained(rm)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    model.save_pretrained(rm)  # the same recipe, the same path, other weights: not the stage that finished
    with pytest.raises(UserError, match="another stage-3 configuration"):
        run(load_recipe(path), progress=False)


def test_a_reinforce_iteration_trains_on_the_recipe_orm(tmp_path, tiny_llama, tiny_reward_model):
    path = _recipe(tmp_path, tiny_llama, tiny_reward_model, prompts=2, n=2, batch_size=4, held_out=[],
                   algorithm="reinforce")
    table = run(load_recipe(path), progress=False)
    it = tmp_path / "out" / "online" / "iter-1"
    manifest = json.loads((it / "manifest.json").read_text())
    assert manifest["status"] == "complete" and "| 1 | reinforce |" in table
    assert manifest["trainer_args"]["class"] == "GRPOConfig" and manifest["trainer_args"]["scale_rewards"] == "none"
    training = manifest["training"]
    assert training["steps"] == 1 and -10 < training["rewards/orm/mean"] < 10  # the tiny classifier's scores
    assert (it / "final" / "model.safetensors").is_file() and not (it / "samples.jsonl").exists()


@pytest.mark.parametrize("kind", ["sft", "previous"])
def test_the_kl_reference_of_a_later_iteration(tmp_path, tiny_llama, tiny_reward_model, kind):
    from bolt_eval.training.online_iteration import Iteration

    recipe = load_recipe(_recipe(tmp_path, tiny_llama, tiny_reward_model, reference=kind))
    stage = type("Stage", (), {"dir": tmp_path / "online"})()
    it = Iteration(recipe, stage, "key", 3, tiny_llama, [], [], None, False)
    assert it.policy == tmp_path / "online" / "iter-2" / "final"
    assert it.reference == (tiny_llama if kind == "sft" else it.policy)


def test_prompts_per_iteration_take_the_next_slice():
    from bolt_eval.training.online_iteration import iteration_prompts

    q = list("abcde")
    assert iteration_prompts(q, None, 2) == q and iteration_prompts(q, 9, 2) == q
    assert [iteration_prompts(q, 2, i) for i in (1, 2, 3, 4)] == [["a", "b"], ["c", "d"], ["e", "a"], ["b", "c"]]


def test_the_summary_table_shows_margin_held_out_change_and_phase_seconds():
    held = {0: {"reward": {"mean": 1.0}}}
    row = {"iteration": 1, "algorithm": "dpo", "pairs": {"pairs": 6, "dropped": {"all_equal": 2, "too_few_valid": 0}},
           "reward": {"mean": 0.852, "failed": 0}, "training": {"rewards/margins": 0.1, "last": {"rewards/margins": 0.42}},
           "held_out_reward": {"reward": {"mean": 1.0156}, "delta_vs_previous": {"mean": 0.0156, "lo": 0.0, "hi": 0.0469}},
           "seconds": {"sampling": 739.56, "scoring": 0.04, "training": 312.72, "held_out": 318.61, "evaluation": 116.36}}
    lines = summary_table(held, [row]).splitlines()
    assert lines[2] == "| 0 (start) | - | - | - | - | - | - | - | 1.000 | - | - |"
    assert lines[3] == "| 1 | dpo | 6 | 2 | 0 | 0 | 0.852 | 0.420 | 1.016 | +0.016 [+0.000, +0.047] | 740 / 0 / 313 / 319 / 116 |"
