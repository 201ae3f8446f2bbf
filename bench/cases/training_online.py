"""Stage 3: one online-DPO iteration split into sampling, scoring and training time, the
training share against a bare trl `DPOTrainer` on the same pairs and settings.

bolt-eval: `bolt_eval.training.online.run(recipe)` with one iteration, evaluation off and no
held-out prompts, as `bolt-eval train online` runs it: n samples per prompt through the hf
backend, the classifier ORM (_training_setup.small_reward_model), best/worst pairs, then
`train_dpo` (load policy and reference, DPOTrainer, save the iteration's model); the
iteration's manifest gives each phase's seconds. Bare: the script a user would write with
trl alone on that iteration's pairs.jsonl: load the policy and the reference, `DPOTrainer(
model, ref_model, DPOConfig(...), train_dataset, processing_class)`, `train()`,
`save_model()`; the same beta, learning rate, schedule, batch, length, epochs and seed.

A 4-layer Llama (hidden 128) as the policy, one torch thread (see generation_hf.py); the
sides alternate, each repeat back to back; median of the ratios.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "11. Training, stage 3: one online-DPO iteration (sampling, scoring, training) vs a bare trl DPOTrainer"
ORDER = 11


def write_recipe(tmp: Path, policy: Path, rm: Path, prompts: int, n: int, max_new: int, dpo: dict[str, Any]) -> Path:
    import yaml
    from cases._training_setup import zebra_source

    source = zebra_source(tmp, prompts, "prompts.jsonl")
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "name": "bench-online", "output_dir": str(tmp / "out"), "model": str(policy), "thoughts": "bolt",
        "eval": {"mode": "off"},
        "reward": [{"kind": "classifier", "model": {"model": str(rm), "device": "cpu"}, "max_length": 1024}],
        "online": {"algorithm": "dpo", "iterations": 1, "init": str(policy),
                   "prompts": [{"path": str(source), "task": "zebralogic"}], "n": n, "max_new_tokens": max_new,
                   "device": "cpu", **dpo}}))
    return path


def bare_dpo(policy: Path, pairs: Path, out: Path, dpo: dict[str, Any]) -> float:
    """The plain trl script on the iteration's pairs; returns its seconds (load to save)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    t0 = time.perf_counter()
    rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in map(json.loads, pairs.read_text().splitlines())]
    tokenizer = AutoTokenizer.from_pretrained(policy)
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=torch.float32)
    ref_model = AutoModelForCausalLM.from_pretrained(policy, dtype=torch.float32)
    args = DPOConfig(output_dir=str(out), num_train_epochs=dpo["epochs"], learning_rate=dpo["learning_rate"],
                     per_device_train_batch_size=dpo["batch_size"], lr_scheduler_type="cosine", warmup_steps=0.1,
                     logging_steps=10, save_strategy="epoch", use_cpu=True, bf16=False, seed=0, report_to="none",
                     disable_tqdm=True, beta=dpo["beta"], max_length=dpo["max_length"])
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out / "final"))
    return time.perf_counter() - t0


def run(quick: bool) -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from bolt_eval.training import online
    from bolt_eval.training.recipe_file import load_recipe
    from cases._training_setup import small_llama, small_reward_model

    torch.set_num_threads(1)
    prompts, n, max_new, repeats = (4, 2, 8, 1) if quick else (4, 4, 32, 2)
    dpo = {"beta": 0.1, "learning_rate": 5e-6, "epochs": 2, "batch_size": 2, "max_length": 1024}
    phases: dict[str, list[float]] = {"sampling": [], "scoring": [], "training": []}
    bare: list[float] = []
    pairs_made = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        policy, rm = small_llama(tmp / "policy"), small_reward_model(tmp / "rm")
        recipe = load_recipe(write_recipe(tmp, policy, rm, prompts, n, max_new, dpo))
        iteration = recipe.out / "online" / "iter-1"

        def bolt_eval() -> None:
            shutil.rmtree(recipe.out / "online", ignore_errors=True)
            online.run(recipe, progress=False)
            seconds = json.loads((iteration / "manifest.json").read_text())["seconds"]
            for phase in phases:
                phases[phase].append(seconds[phase])

        bolt_eval()  # warm-up, and the pairs the bare trainer learns from
        pairs = tmp / "pairs.jsonl"
        shutil.copy(iteration / "pairs.jsonl", pairs)
        pairs_made = len(pairs.read_text().splitlines())
        for values in phases.values():
            values.clear()
        for r in range(repeats):
            sides = [bolt_eval, lambda: bare.append(bare_dpo(policy, pairs, tmp / f"bare-{r}", dpo))]
            for fn in (sides if r % 2 == 0 else sides[::-1]):
                fn()
    total = [sum(p) for p in zip(*phases.values())]
    rows = [{"phase": phase, "bolt-eval_s": statistics.median(v), "share_of_iteration": statistics.median(
        x / t for x, t in zip(v, total)), "bare_trl_s": statistics.median(bare) if phase == "training" else None,
        "time_vs_bare": statistics.median(x / b for x, b in zip(v, bare)) if phase == "training" else None}
        for phase, v in phases.items()]
    notes = [f"{prompts} ZebraLogic prompts x n={n} samples (temperature 1, at most {max_new} new tokens), the "
             f"classifier ORM, {pairs_made} best/worst pairs; DPO beta {dpo['beta']}, {dpo['epochs']} epochs, batch "
             f"{dpo['batch_size']}, max_length {dpo['max_length']}; median of {repeats} alternating repeat(s) after a "
             "warm-up; one torch thread",
             "training: load policy and reference, train, save the model, on both sides; time vs bare above 1 is "
             "bolt-eval's overhead on the training share"]
    return {"rows": rows, "notes": notes}
