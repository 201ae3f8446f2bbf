"""Outcome-reward scoring (stages 1 and 3): a batch of items scored at once against the
same items scored one call at a time, through `RewardModel.score` as the stages call it.

- classifier: a sequence-classification ORM (_training_setup.small_reward_model: a 4-layer
  Llama, hidden 128, one output, built offline as the tests' `tiny_reward_model`), its own
  batch_size 8 against one `score([item])` per item; the scores must agree (right padding
  with a mask gives each item the score it gets alone);
- verifier: the MATH500 exact scorer (math-verify) on the external solution, the same way.

Items: [user question, long-CoT response] with solutions of varied length; one torch thread
(see generation_hf.py); the two ways alternate, each repeat back to back, median ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "9. Training, rewards: outcome-reward scoring batched vs one item at a time"
ORDER = 9
THINK = "<internal_thoughts>{}</internal_thoughts><external_solution>{}</external_solution>"


def items(n: int) -> list[Any]:
    from bolt_eval.training.rewards import RewardItem

    out = []
    for i in range(n):
        a, b = i % 9 + 1, i % 4 + 1
        solution = f"We add {a} and {b}. " * (1 + i % 12) + f"The answer is $\\boxed{{{a + b + i % 2}}}$."
        row = {"problem": f"What is {a} + {b}?", "answer": str(a + b), "subject": "Prealgebra", "level": 1,
               "unique_id": f"test/prealgebra/bench-{i}.json"}
        out.append(RewardItem(f"q{i}#0", row["problem"], THINK.format("Let me think. " * (i % 5), solution), "stop",
                              {"task": "math500", "row": row}))
    return out


def reward_model(tmp: Path, component: dict[str, Any]) -> Any:
    from bolt_eval.training.recipe import Recipe
    from bolt_eval.training.rewards import build_reward

    recipe = Recipe.model_validate({"name": "bench", "output_dir": str(tmp / "out"), "model": "default",
                                    "reward": [component]})
    recipe.source = "bench recipe"
    model = build_reward(recipe)
    model.preflight()
    return model


def compare(model: Any, batch: list[Any], repeats: int) -> dict[str, Any]:
    """Seconds for the batch scored at once and one at a time (median over alternating repeats)."""
    at_once, single, at_once_cpu, single_cpu = [], [], [], []
    for r in range(repeats):
        for way in ((0, 1) if r % 2 == 0 else (1, 0)):
            c0, t0 = time.process_time(), time.perf_counter()
            if way == 0:
                together = model.score(batch)
                at_once.append(time.perf_counter() - t0)
                at_once_cpu.append(time.process_time() - c0)
            else:
                alone = [model.score([item])[0] for item in batch]
                single.append(time.perf_counter() - t0)
                single_cpu.append(time.process_time() - c0)
    worst = max(abs(x.value - y.value) for x, y in zip(together, alone))
    return {"at_once_s": statistics.median(at_once), "one_at_a_time_s": statistics.median(single),
            "speed-up": statistics.median(s / a for s, a in zip(single, at_once)),
            "cpu_speed-up": statistics.median(s / a for s, a in zip(single_cpu, at_once_cpu)), "max_abs_score_diff": worst}


def run(quick: bool) -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from cases._training_setup import small_reward_model

    torch.set_num_threads(1)
    n, repeats = (16, 1) if quick else (64, 3)
    batch = items(n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rm = small_reward_model(tmp / "rm")
        classifier = reward_model(tmp, {"kind": "classifier", "model": {"model": str(rm), "device": "cpu"},
                                        "batch_size": 8, "max_length": 512})
        classifier.score(batch[:8])  # warm-up: first-call allocations
        rows.append({"component": "classifier (batch_size 8)", "items": n, **compare(classifier, batch, repeats)})
        verifier = reward_model(tmp, {"kind": "verifier"})
        verifier.score(batch[:2])  # warm-up: math-verify's imports
        rows.append({"component": "verifier (math500)", "items": n, **compare(verifier, batch, repeats)})
    notes = [f"median of {repeats} alternating repeat(s) after a warm-up; one torch thread",
             "speed-up: one-at-a-time seconds over batched seconds (target at least 5 for the classifier ORM); cpu "
             "speed-up: the same in CPU seconds of the process (robust to the load of a shared machine)",
             "max abs score diff: batched against one-at-a-time scores of the same items (must be ~0)"]
    return {"rows": rows, "notes": notes}
