"""One iteration of BOLT's online DPO: trl's DPOTrainer on the iteration's best/worst pairs.

The policy starts from the previous iteration's model (the SFT model in iteration 1) and
the KL reference is the folder online.py names: the SFT model in every iteration (the
paper's Eq. 2, Pang et al., arXiv 2502.03860) or the previous iteration's policy (as
RLHFlow/Online-RLHF). Beta, learning rate, epochs, scheduler, warm-up, batch and gradient
accumulation come from the recipe (trl `DPOConfig`, sigmoid loss, plus the chosen answers' NLL
at `online.nll_weight` when set: RPO, Pang et al., arXiv 2404.19733); the reference's log-probs
are computed once before training (`precompute_ref_log_probs`). A killed training
resumes from its last complete trainer checkpoint (checkpoints.last_checkpoint).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from bolt_eval.training.checkpoints import last_checkpoint
from bolt_eval.training.policy_rl import save_final, trainer_args


def dpo_args(settings: Any, work: Path, seed: int, progress: bool) -> Any:
    from trl import DPOConfig

    # the chosen answers' NLL beside the sigmoid loss when the recipe weighs it (RPO)
    loss = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, settings.nll_weight]) if settings.nll_weight else {}
    # the reference's log-probs once per pair before training, not once per pair per epoch
    return DPOConfig(**trainer_args(settings, work, seed, progress), beta=settings.beta,
                     max_length=settings.max_length, precompute_ref_log_probs=True, **loss)


def train_dpo(policy: Path, reference: Path, rows: list[dict[str, Any]], settings: Any, work: Path, final: Path,
              seed: int, progress: bool = True) -> tuple[list[dict[str, Any]], str | None]:
    """DPO on `rows` ({"prompt", "chosen", "rejected"} conversations) from `policy` with KL
    to `reference`; the model lands in `final`. Returns trl's log history and the trainer
    checkpoint it resumed from (None: a fresh start)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    args = dpo_args(settings, work, seed, progress)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(policy)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=dtype)
    # a reference equal to the starting policy is the policy itself for the precompute: one load
    same = policy.resolve() == reference.resolve()
    ref_model = None if same else AutoModelForCausalLM.from_pretrained(reference, dtype=dtype)
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    last = str(found) if (found := last_checkpoint(work)) else None
    with contextlib.redirect_stdout(sys.stderr):  # trl/transformers print their logs: keep stdout for results
        trainer.train(resume_from_checkpoint=last)
    save_final(trainer, tokenizer, final)
    return trainer.state.log_history, last
