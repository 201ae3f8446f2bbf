"""Stage 2 (SFT) on the tiny offline Llama: the loss falls, only the assistant turn carries
loss (read on the dataset's and the collator's labels), full and LoRA both leave
checkpoints that `evaluate()` runs, and a kill after the first checkpoint loses nothing
and evaluates no save twice."""

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

from bolt_eval.training import sft
from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.training.trajectory import Trajectory
from bolt_eval.types import UserError

MATH_FIXTURE = Path(__file__).resolve().parents[2] / "tasks" / "math500" / "fixture.jsonl"
ANSWER = ("<internal_thoughts>Solve 2+3 step by step: 2+3 = 5.</internal_thoughts>"
          "<external_solution>The answer is \\boxed{5}.</external_solution>")


def write_data(path: Path, n: int = 4) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Solve 2+3 ({i})."}, {"role": "assistant", "content": ANSWER}]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_recipe(tmp_path: Path, model: Path, mode: str = "inline", **sft_fields: object) -> Path:
    recipe = {
        "name": "t", "output_dir": str(tmp_path / "out"), "model": str(model), "thoughts": "bolt",
        "eval": {"tasks": [{"name": "math500", "data": str(MATH_FIXTURE), "limit": 2}], "max_new_tokens": 8,
                 "mode": mode},
        "sft": {"data": str(write_data(tmp_path / "sft.jsonl")), "epochs": 3, "learning_rate": 1e-3, "batch_size": 2,
                "max_length": 128, "save_steps": 2, "logging_steps": 1, "device": "cpu", "warmup_ratio": 0.0,
                **sft_fields},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_loss_falls_and_only_the_assistant_turn_carries_loss(tmp_path: Path, tiny_llama: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path, tiny_llama, epochs=8, batch_size=1,
                                          learning_rate=5e-3, scheduler="constant"))
    rows = sft.read_rows(sft.data_path(recipe))
    trainer = sft.build_trainer(recipe, tmp_path / "train", rows, progress=False, callbacks=[])
    tok = trainer.processing_class
    example = trainer.train_dataset[0]
    prompt_text = tok.apply_chat_template(rows[0]["prompt"], add_generation_prompt=True, tokenize=False)
    prompt_ids = tok(prompt_text, add_special_tokens=False)["input_ids"]
    assert tok.decode(example["input_ids"][:len(prompt_ids)]) == prompt_text
    labels = example["labels"]
    assert labels[:len(prompt_ids)] == [-100] * len(prompt_ids)
    assert all(x != -100 for x in labels[len(prompt_ids):])
    assert tok.decode([x for x in labels if x != -100]) == ANSWER + "<|im_end|>\n"
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])  # what the model sees
    for row in range(2):
        kept = batch["labels"][row][batch["labels"][row] != -100].tolist()
        assert tok.decode(kept) == ANSWER + "<|im_end|>\n"
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert trainer.state.global_step == 32
    assert max(losses[-4:]) < 0.5 * losses[0], losses


@pytest.mark.parametrize("method", ["full", "lora"])
def test_every_save_is_evaluated_into_the_trajectory(tmp_path: Path, tiny_llama: Path, method: str) -> None:
    extra = {"lora": {"r": 8, "alpha": 16}} if method == "lora" else {}
    recipe = load_recipe(write_recipe(tmp_path, tiny_llama, method=method, **extra))
    text = sft.run(recipe, progress=False)
    out = tmp_path / "out"
    entries = Trajectory(out).entries()
    # 4 rows, batch 2, 3 epochs: 6 steps, saves at 2, 4, 6; final == checkpoint-6 (same weights: no new entry)
    assert [e["label"] for e in entries] == ["t/init", "t/sft/step-2", "t/sft/step-4", "t/sft/step-6"]
    assert [e["step"] for e in entries[1:]] == [2, 4, 6]
    for e in entries:
        [run_id] = e["run_ids"]
        summary = json.loads((out / "results" / run_id / "summary.json").read_text())
        assert summary["n_samples"] == 2 and "adoption" in summary
        assert json.loads((out / "results" / run_id / "manifest.json").read_text())["label"] == e["label"]
    assert all(e["lora"] is (method == "lora") for e in entries[1:])
    manifest = json.loads((out / "sft" / "manifest.json").read_text())
    assert (manifest["status"], manifest["examples"], manifest["steps"]) == ("complete", 4, 6)
    assert manifest["last_loss"] < manifest["first_loss"]
    if method == "lora":
        assert (out / "sft" / "final" / "adapter_config.json").is_file()
        assert (out / "sft" / "merged-final" / "config.json").is_file()
        assert entries[-1]["evaluated"].endswith("merged-checkpoint-6")
        assert manifest["served"].endswith("merged-final")
    else:
        assert (out / "sft" / "final" / "model.safetensors").is_file()
    assert "t/sft/step-6" in text
    again = sft.run(recipe, progress=False)  # complete with the same configuration: skipped
    assert again.startswith("sft: complete") and len(Trajectory(out).entries()) == 4


def test_kill_after_first_checkpoint_then_resume_evaluates_each_save_once(tmp_path: Path, tiny_llama: Path) -> None:
    path = write_recipe(tmp_path, tiny_llama)
    cmd = [sys.executable, "-m", "bolt_eval.cli", "train", "sft", "--recipe", str(path), "--no-progress"]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    first = tmp_path / "out" / "sft" / "checkpoint-2" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists(), proc.communicate()[1][-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "out" / "sft" / "checkpoint-6").exists()  # killed before the end
    done = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    entries = Trajectory(tmp_path / "out").entries()
    assert [e["label"] for e in entries] == ["t/init", "t/sft/step-2", "t/sft/step-4", "t/sft/step-6"]
    lines = (tmp_path / "out" / "trajectory.jsonl").read_text().splitlines()
    assert len(lines) == 4  # no entry written twice
    assert len(list((tmp_path / "out" / "results").glob("t_*--math500--*"))) == 4
    manifest = json.loads((tmp_path / "out" / "sft" / "manifest.json").read_text())
    assert manifest["resumed_from"].endswith("checkpoint-2")


def test_missing_stage1_set_names_the_fix(tmp_path: Path, tiny_llama: Path) -> None:
    path = write_recipe(tmp_path, tiny_llama)
    recipe = load_recipe(path, ["sft.data=null"])
    with pytest.raises(UserError, match="run `bolt-eval train bootstrap"):
        sft.run(recipe, progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(UserError, match="bad.jsonl line 1: field 'messages'"):
        sft.read_rows(bad)


@pytest.mark.slow
def test_embedded_model_learns_the_long_cot_format(tmp_path: Path) -> None:
    """The tiny recipe's SFT on the embedded SmolLM2-135M-Instruct, shortened to 4 steps:
    format adoption on held-out puzzles from none before SFT to all after. A set written
    from known solutions (zebra_sft.py) stands in for stage 1, whose generation is too
    long for a test."""
    from zebra_sft import rows

    root = Path(__file__).resolve().parents[2]
    data = tmp_path / "sft.jsonl"
    spread = rows(root / "training" / "queries" / "tiny-zebra.jsonl")[::6]  # 8 puzzles, every size
    data.write_text("".join(json.dumps(r) + "\n" for r in spread))
    recipe = load_recipe(root / "training" / "recipes" / "tiny-cpu.yaml", [
        f"output_dir={tmp_path / 'out'}", f"sft.data={data}", "sft.epochs=1", "sft.batch_size=2",
        "sft.save_steps=1000", "sft.learning_rate=2e-4", "sft.scheduler=constant", "eval.limit=4",
        "eval.batch_size=4", "eval.max_new_tokens=256"])
    sft.run(recipe, progress=False)
    init, final = Trajectory(tmp_path / "out").entries()
    assert (init["label"], final["label"]) == ("tiny-cpu/init", "tiny-cpu/sft/step-4")
    assert init["adoption"]["zebralogic"]["rate"] == 0.0
    assert final["adoption"]["zebralogic"]["rate"] == 1.0, final["adoption"]
