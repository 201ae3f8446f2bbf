"""Stage 2 of BOLT (Pang et al., arXiv 2502.03860, Sec. 2.2): long-CoT SFT on stage 1's set.

trl's `SFTTrainer`, full fine-tuning or LoRA (peft `LoraConfig` from `recipe.sft.lora`;
SkyThought's numbers by default), on chat rows `{"messages": [...]}` from `recipe.sft.data`
or stage 1's `<output_dir>/bootstrap/sft.jsonl`.

Loss on the assistant turn only: each row becomes trl's conversational prompt/completion
form (prompt = every message before the last, completion = the last, assistant, message)
with `completion_only_loss=True`, so trl masks every prompt token's label to -100 and the
completion keeps its end-of-turn token (the model learns to stop). We chose this over
`assistant_only_loss`, which needs `{% generation %}` markers in the chat template and trl
1.16 only patches a few known templates; the prompt/completion form works with any template.

Outputs in `<output_dir>/sft/`: the trainer's `checkpoint-N/` (resumed from after a kill),
`final/` (full model, or the LoRA adapter with `merged-final/` beside it as served) and
manifest.json (examples, steps, losses, wall time, trainer arguments, fingerprints). With
`eval.mode: inline` the initial model is evaluated once before training, every save by
`EvalOnSave`, and the final model; all go to `<output_dir>/trajectory.jsonl`. A finished
stage with the same configuration is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bolt_eval.training.checkpoints import fingerprint, last_checkpoint, merge_lora
from bolt_eval.training.recipe import resolve_path
from bolt_eval.training.trajectory import Trajectory, retire_stage
from bolt_eval.training.workdir import StageDir, file_sha256
from bolt_eval.types import UserError


def data_path(recipe: Any) -> Path:
    cfg = recipe.section("sft")
    path = resolve_path(cfg.data) if cfg.data else recipe.out / "bootstrap" / "sft.jsonl"
    if not path.is_file():
        if cfg.data:
            raise UserError(f"{recipe.source}: sft.data {cfg.data}: no such file")
        raise UserError(f"{path}: no SFT set yet; run `bolt-eval train bootstrap --recipe {recipe.source}` first, "
                        "or name a chat-format JSONL file as sft.data in the recipe")
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Chat rows as trl prompt/completion pairs; errors name the line and the fix."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            msgs = json.loads(line).get("messages")
        except (json.JSONDecodeError, AttributeError) as err:
            raise UserError(f"{path} line {n}: not a JSON object ({err}); each line is {{\"messages\": [...]}}") from err
        ok = isinstance(msgs, list) and len(msgs) >= 2 and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") in ("system", "user", "assistant")
            for m in msgs)
        if not ok or msgs[-1]["role"] != "assistant" or not any(m["role"] == "user" for m in msgs):
            raise UserError(f"{path} line {n}: field 'messages' must be a list of {{role, content}} with a user turn "
                            "and ending with the assistant turn the model learns")
        rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
    if not rows:
        raise UserError(f"{path}: no rows: stage 1 kept no response (each sample's fate is in "
                        f"{path.parent / 'pool.jsonl'}); use a stronger bootstrap.generator, more samples "
                        "(bootstrap.n) or queries, a lower bootstrap.percentile, or point sft.data at a chat-format file")
    return rows


def _device(cfg: Any) -> tuple[bool, bool]:
    """(use_cpu, bf16)."""
    import torch

    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    bf16 = cfg.bf16 if cfg.bf16 is not None else bool(cuda and torch.cuda.is_bf16_supported())
    return not cuda, bf16


def _load(recipe: Any, bf16: bool) -> tuple[Any, Any, str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bolt_eval.models import resolve

    source = resolve(recipe.model, recipe.revision)
    kw: dict[str, Any] = {"revision": source.revision} if source.kind == "hub" else {}
    if source.gguf_file:
        kw["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.load_from, **kw)
    except OSError as err:
        raise UserError(f"{recipe.source}: model {recipe.model} cannot be loaded ({err}); download it first "
                        "or point model: at a local checkpoint folder") from err
    if recipe.chat_template:
        tokenizer.chat_template = resolve_path(recipe.chat_template).read_text(encoding="utf-8")
    if not tokenizer.chat_template:
        raise UserError(f"{recipe.source}: model {recipe.model} has no chat template; set chat_template: to a "
                        "Jinja template file (a base model needs one to learn the chat format)")
    model = AutoModelForCausalLM.from_pretrained(source.load_from, dtype=torch.bfloat16 if bf16 else torch.float32, **kw)
    return model, tokenizer, source.location


def trainer_args(recipe: Any, out: Path, progress: bool) -> Any:
    from trl import SFTConfig

    cfg = recipe.sft
    use_cpu, bf16 = _device(cfg)
    return SFTConfig(
        output_dir=str(out), num_train_epochs=cfg.epochs, learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        lr_scheduler_type=cfg.scheduler, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        max_length=cfg.max_length, packing=cfg.packing, completion_only_loss=True,
        save_strategy="steps" if cfg.save_steps else "epoch", save_steps=cfg.save_steps or 500,
        logging_steps=cfg.logging_steps, logging_first_step=True, seed=recipe.seed, data_seed=recipe.seed,
        use_cpu=use_cpu, bf16=bf16, deepspeed=str(resolve_path(cfg.deepspeed)) if cfg.deepspeed else None,
        report_to="none", disable_tqdm=not progress,
        activation_checkpointing=cfg.gradient_checkpointing)  # trl defaults it on: say it always


def build_trainer(recipe: Any, out: Path, rows: list[dict[str, Any]], progress: bool, callbacks: list[Any]) -> Any:
    from datasets import Dataset
    from trl import SFTTrainer

    cfg = recipe.sft
    args = trainer_args(recipe, out, progress)
    model, tokenizer, _ = _load(recipe, args.bf16)
    peft_config = None
    if cfg.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                                 target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                      peft_config=peft_config, callbacks=callbacks)


def stage_config(recipe: Any, data: Path) -> dict[str, Any]:
    from bolt_eval.models import resolve

    source = resolve(recipe.model, recipe.revision)
    return {
        "sft": recipe.sft.model_dump(), "model": recipe.model, "revision": recipe.revision, "seed": recipe.seed,
        "model_fingerprint": fingerprint(source.location) if source.kind != "hub" else None,
        "data": {"path": str(data), "sha256": file_sha256(data)},
        "chat_template_sha256": file_sha256(resolve_path(recipe.chat_template)) if recipe.chat_template else None,
    }


def run(recipe: Any, progress: bool = True) -> str:
    from bolt_eval.training.autoeval import EvalOnSave, evaluate_checkpoint, evaluate_init

    data = data_path(recipe)
    rows = read_rows(data)
    stage = StageDir(recipe, "sft", stage_config(recipe, data))
    if stage.finished():
        return "sft: complete with this configuration, skipped\n" + summary(stage.previous() or {}, recipe)
    old = stage.previous()
    if old and old.get("config_hash") != stage.hash and last_checkpoint(stage.dir):
        raise UserError(f"{stage.dir} holds checkpoints of another SFT configuration; remove the folder, "
                        "or set another output_dir in the recipe")
    if not last_checkpoint(stage.dir) and not (stage.dir / "final").is_dir():
        retire_stage(recipe.out, "sft", "SFT starts over")  # what came of an earlier SFT is gone
    inline = recipe.eval.mode == "inline"
    with stage:
        started = time.monotonic()
        if inline:
            evaluate_init(recipe, progress)
        trainer = build_trainer(recipe, stage.dir, rows, progress, [EvalOnSave(recipe, "sft", progress=progress)])
        resume = last_checkpoint(stage.dir)
        train_started = time.monotonic()
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        train_seconds = time.monotonic() - train_started
        final = _save_final(trainer, stage.dir)
        served = merge_lora(final) if recipe.sft.method == "lora" else final
        step = trainer.state.global_step
        if inline:
            evaluate_checkpoint(recipe, final, stage="sft", step=step, progress=progress)
        losses = [(e["step"], e["loss"]) for e in trainer.state.log_history if "loss" in e]
        stage.finish(
            examples=len(rows), steps=step, epochs=trainer.state.epoch, losses=losses,
            first_loss=losses[0][1] if losses else None, last_loss=losses[-1][1] if losses else None,
            resumed_from=str(resume) if resume else None, train_seconds=round(train_seconds, 2),
            wall_seconds=round(time.monotonic() - started, 2), final=str(final), served=str(served),
            final_fingerprint=fingerprint(final), trainer_args=json.loads(trainer.args.to_json_string()),
            trainable_parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
            evaluations=_eval_seconds(recipe))
        return summary(stage.manifest, recipe)


def _save_final(trainer: Any, folder: Path) -> Path:
    """`final/` written whole or not at all (a temporary folder renamed into place)."""
    final, tmp = folder / "final", folder / f".final.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    trainer.processing_class.save_pretrained(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def _eval_seconds(recipe: Any) -> list[dict[str, Any]]:
    return [{"label": e["label"], "eval_seconds": e["eval_seconds"]} for e in Trajectory(recipe.out).entries()
            if e["stage"] in ("init", "sft")]


def summary(manifest: dict[str, Any], recipe: Any) -> str:
    """What `bolt-eval train sft` prints: the stage's numbers, then the trajectory so far."""
    facts = [["examples", manifest.get("examples")], ["steps", manifest.get("steps")],
             ["loss first -> last", f"{manifest.get('first_loss')} -> {manifest.get('last_loss')}"],
             ["train seconds", manifest.get("train_seconds")], ["wall seconds", manifest.get("wall_seconds")],
             ["final model", manifest.get("served")]]
    rows = []
    for e in Trajectory(recipe.out).entries():
        heads = "; ".join(f"{t} {h['metric']} {100 * h['mean']:.1f}" if h.get("unit") == "%" else
                          f"{t} {h['metric']} {h['mean']:.2f}" for t, h in e.get("headlines", {}).items())
        adopt = "; ".join(f"{100 * a['rate']:.0f}%" for a in e.get("adoption", {}).values()) or "-"
        rows.append([e["label"], heads, adopt, e.get("eval_seconds")])
    table = tabulate(rows, headers=["checkpoint", "headline", "format adoption", "eval s"], disable_numparse=True)
    return tabulate(facts, tablefmt="plain") + ("\n\n" + table if rows else "") + "\n"
