"""Stage 2: `train sft` against a bare trl `SFTTrainer` script on the same data and settings.

bolt-eval: `bolt_eval.training.sft.run(recipe)` as `bolt-eval train sft` calls it, with
evaluation switched off (`eval.mode: off`): the stage directory, the manifest, the trainer
built by the recipe, the `EvalOnSave` callback, the final save. Bare: the script a user
would write with trl alone: load the model and tokenizer, split each chat row into
prompt/completion, `SFTTrainer(model, SFTConfig(...), train_dataset, processing_class)`,
`train()`, `save_model()`. The same model folder, JSONL file, optimiser, schedule, length,
batch, seed and checkpoint strategy (one checkpoint per epoch) on both sides.

Two figures per side: train-loop steps/s (`trainer.train()` alone: bolt-eval's manifest
`train_seconds`, the bare script's own timer) and the whole run's wall time (load, data,
train, save). A 4-layer Llama (hidden 128, _training_setup.small_llama), one torch thread
(see generation_hf.py: on 2 shared cores a second thread makes ratios swing); the two
sides alternate, each repeat back to back, and the ratio is the median of the per-repeat
ratios.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "8. Training, stage 2: `train sft` steps/s vs a bare trl SFTTrainer script"
ORDER = 8


def bare_sft(model_dir: Path, data: Path, out: Path, settings: dict[str, Any]) -> tuple[int, float]:
    """The plain trl script; returns (optimizer steps, seconds in train())."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows = [json.loads(line)["messages"] for line in data.read_text().splitlines()]
    dataset = Dataset.from_list([{"prompt": m[:-1], "completion": m[-1:]} for m in rows])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = SFTConfig(output_dir=str(out), num_train_epochs=settings["epochs"], learning_rate=settings["learning_rate"],
                     per_device_train_batch_size=settings["batch_size"], lr_scheduler_type="cosine",
                     warmup_steps=0.1, max_length=settings["max_length"], completion_only_loss=True,
                     save_strategy="epoch", logging_steps=settings["logging_steps"], logging_first_step=True,
                     seed=0, data_seed=0, use_cpu=True, bf16=False, report_to="none", disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    trainer.save_model(str(out / "final"))
    return trainer.state.global_step, seconds


def bolt_sft(model_dir: Path, data: Path, out: Path, settings: dict[str, Any]) -> tuple[int, float]:
    import yaml

    from bolt_eval.training import sft
    from bolt_eval.training.recipe_file import load_recipe

    recipe_file = out.parent / f"{out.name}.yaml"
    recipe_file.write_text(yaml.safe_dump({
        "name": "bench-sft", "output_dir": str(out), "model": str(model_dir), "thoughts": "bolt",
        "eval": {"mode": "off"},
        "sft": {"data": str(data), "device": "cpu", "warmup_ratio": 0.1, **settings}}))
    recipe = load_recipe(recipe_file)
    sft.run(recipe, progress=False)
    facts = json.loads((out / "sft" / "manifest.json").read_text())
    return facts["steps"], facts["train_seconds"]


def run(quick: bool) -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from cases._training_setup import chat_rows, median_ratio, small_llama, write_jsonl

    torch.set_num_threads(1)
    rows, repeats = (16, 1) if quick else (48, 3)
    settings = {"epochs": 2, "learning_rate": 1e-4, "batch_size": 4, "max_length": 256, "logging_steps": 5}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = small_llama(tmp / "model")
        data = write_jsonl(tmp / "sft.jsonl", chat_rows(rows))
        bare_sft(model_dir, data, tmp / "warm-up", {**settings, "epochs": 0.1})  # first-call costs: imports, allocator
        results: dict[str, dict[str, list[float]]] = {k: {"steps": [], "train_s": [], "wall_s": [], "cpu_s": []}
                                                      for k in ("bolt-eval", "bare trl")}
        for r in range(repeats):
            order = [("bolt-eval", bolt_sft), ("bare trl", bare_sft)]
            for name, fn in (order if r % 2 == 0 else order[::-1]):  # alternate who goes first
                c0, t0 = time.process_time(), time.perf_counter()
                steps, train_s = fn(model_dir, data, tmp / f"{name.replace(' ', '-')}-{r}", settings)
                results[name]["wall_s"].append(time.perf_counter() - t0)
                results[name]["cpu_s"].append(time.process_time() - c0)
                results[name]["steps"].append(steps)
                results[name]["train_s"].append(train_s)
    bolt, bare = results["bolt-eval"], results["bare trl"]
    loop = median_ratio([s / t for s, t in zip(bolt["steps"], bolt["train_s"])],
                        [s / t for s, t in zip(bare["steps"], bare["train_s"])])
    whole = median_ratio(bare["wall_s"], bolt["wall_s"])
    whole_cpu = median_ratio(bare["cpu_s"], bolt["cpu_s"])
    table = []
    for name, res in results.items():
        table.append({"side": name, "steps": res["steps"][0], "train_s": statistics.median(res["train_s"]),
                      "steps/s": statistics.median(s / t for s, t in zip(res["steps"], res["train_s"])),
                      "wall_s": statistics.median(res["wall_s"]), "cpu_s": statistics.median(res["cpu_s"]),
                      "steps/s_vs_bare": loop if name == "bolt-eval" else 1.0,
                      "whole_run_speed_vs_bare": whole if name == "bolt-eval" else 1.0,
                      "whole_run_cpu_speed_vs_bare": whole_cpu if name == "bolt-eval" else 1.0})
    notes = [f"{rows} chat rows, {settings['epochs']} epochs, batch {settings['batch_size']}, max_length "
             f"{settings['max_length']}, full fine-tuning, one checkpoint per epoch; median of {repeats} alternating "
             "repeat(s) after a warm-up; one torch thread",
             "steps/s vs bare: the median of the per-repeat ratios of train-loop steps/s (target at least 0.97); "
             "whole run speed vs bare: bare wall time over bolt-eval's (load, data, train, save, manifest); the same "
             "in CPU seconds of the process (robust to the load of a shared machine)"]
    return {"rows": table, "notes": notes}
