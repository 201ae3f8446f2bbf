"""Stage 3's sampling and scoring, journalled: a killed run resumes without paying twice.

BOLT (Pang et al., arXiv 2502.03860, Section 3.3) samples `n` responses per prompt from the
current policy (paper: 8, temperature 1.0, top-p 1.0) and scores each with the outcome
reward model. Sampling goes through the harness's own backends (hf on CPU, vllm where there
is one; `online.generator` picks the backend and its options, the model is always the
current policy folder). Prompts are drawn in fixed groups of the backend's batch size, each
group with one seed (derived from the recipe seed, the phase and the group's prompt ids: hf
batches only requests with equal sampling settings), so a resumed run draws what an unbroken
one would have (unless the kill fell between two journal lines of one group: its remaining
prompts are then drawn again on their own); nothing journalled is drawn twice.

    samples journal: {"key": prompt id, "seed", "samples": [{"text", "finish_reason",
                      "completion_tokens", "error"}]}   one record per prompt, as generated
    rewards journal: {"key": prompt id, "rewards": [value | None], "parts", "errors"}; a key's
                     last record counts (failed rewards are scored again on resume)

A sample whose generation failed gets reward None (never 0) and is counted as failed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from pathlib import Path
from typing import Any

from bolt_eval.training.workdir import Journal
from bolt_eval.types import UserError

SCORE_CHUNK = 8  # prompts per call into the reward model (each saved as soon as scored)


def prompt_seed(seed: int, phase: str, prompt_id: str) -> int:
    digest = hashlib.sha256(f"{seed}\0{phase}\0{prompt_id}".encode()).hexdigest()
    return int(digest[:8], 16)


def generator_spec(cfg: Any, policy: Path) -> Any:
    """The BackendSpec that samples `policy`: `online.generator`'s backend and options, or hf."""
    from bolt_eval.training.recipe import ModelRef

    ref = cfg.generator or ModelRef(model=str(policy), backend="hf", device="cpu" if cfg.device == "cpu" else None)
    if ref.backend not in ("hf", "vllm"):
        raise UserError(f"online.generator.backend: {ref.backend!r} cannot load each iteration's new policy; "
                        "use hf or vllm (the model field is replaced by the policy folder)")
    return dataclasses.replace(ref.spec(), model=str(policy.resolve()))


def sample(journal: Journal, queries: list[Any], policy: Path, cfg: Any, seed: int, phase: str,
           progress: bool, label: str | None = None) -> dict[str, int]:
    """`cfg.n` samples for every query not yet in `journal` (seeds drawn from `phase`);
    returns what was done."""
    from bolt_eval.backends.base import build_backend
    from bolt_eval.progress import progress_bar
    from bolt_eval.types import Request, SamplingParams

    todo = [q for q in queries if q.id not in journal]
    if todo:
        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                                n=cfg.n)
        spec = generator_spec(cfg, policy)
        size = spec.chunk_size
        groups = [queries[i:i + size] for i in range(0, len(queries), size)]
        bar = progress_bar(len(queries), f"{label or phase} sample", progress, "prompt", len(queries) - len(todo))
        backend = build_backend(spec)
        try:
            for group in groups:
                missing = [q for q in group if q.id not in journal]
                if not missing:
                    continue
                group_seed = prompt_seed(seed, phase, "\0".join(q.id for q in group))
                requests = [Request(q.id, 0, ({"role": "user", "content": q.prompt},), params.with_(seed=group_seed))
                            for q in missing]
                for q, completions in zip(missing, backend.generate(requests)):
                    journal.append({"key": q.id, "seed": group_seed, "samples": [
                        {"text": c.text, "finish_reason": c.finish_reason, "completion_tokens": c.completion_tokens,
                         "error": c.error} for c in completions]})
                    bar.update(1)
        finally:
            backend.close()
            bar.close()
    return {"prompts": len(queries), "generated": len(todo), "resumed": len(queries) - len(todo)}


def score(samples: Journal, rewards: Journal, queries: list[Any], reward_model: Any, label: str,
          progress: bool, retry_failed: bool = True) -> dict[str, int]:
    """Score every sampled query not yet in `rewards`, a few prompts per reward-model call;
    with `retry_failed`, a stored record whose reward model failed on a sample (a judge API
    down, say) is scored again on those samples and superseded (`rewards` keeps a key's last
    record)."""
    from bolt_eval.progress import progress_bar
    from bolt_eval.training.rewards import RewardItem

    todo = [q for q in queries if q.id not in rewards or retry_failed and _failed(rewards.records[q.id])]
    retried = sum(q.id in rewards for q in todo)
    bar = progress_bar(len(queries), f"{label} score", progress, "prompt", len(queries) - len(todo))
    for start in range(0, len(todo), SCORE_CHUNK):
        chunk = todo[start:start + SCORE_CHUNK]
        items, owners = [], []
        for q in chunk:
            old = rewards.records.get(q.id)
            for k, s in enumerate(samples.records[q.id]["samples"]):
                if s["finish_reason"] != "error" and (old is None or old["rewards"][k] is None):
                    items.append(RewardItem(key=f"{q.id}#{k}", prompt=q.prompt, response=s["text"],
                                            finish_reason=s["finish_reason"], reference=q.reference))
                    owners.append((q.id, k))
        scored = dict(zip(owners, reward_model.score(items)))
        for q in chunk:
            old = rewards.records.get(q.id)
            record: dict[str, Any] = {"key": q.id, "rewards": [], "parts": [], "errors": []}
            for k, s in enumerate(samples.records[q.id]["samples"]):
                if (q.id, k) not in scored and old is not None and s["finish_reason"] != "error":
                    for field in ("rewards", "parts", "errors"):  # kept from the stored record
                        record[field].append(old[field][k])
                    continue
                r = scored.get((q.id, k))
                record["rewards"].append(r.value if r else None)
                record["parts"].append(r.parts if r else {})
                record["errors"].append(r.error if r else f"generation failed: {s['error']}")
            rewards.append(record)
        bar.update(len(chunk))
    bar.close()
    return {"scored": len(todo) - retried, "rescored": retried, "resumed": len(queries) - len(todo)}


def _failed(record: dict[str, Any]) -> bool:
    """A reward the reward model failed to give (not a sample that failed to generate)."""
    return any(v is None and not (e or "").startswith("generation failed")
               for v, e in zip(record["rewards"], record["errors"]))


def reward_stats(rewards: Journal, queries: list[Any]) -> dict[str, Any]:
    """Mean and std of the scored samples' rewards over `queries`, and the failures."""
    values = [v for q in queries for v in rewards.records[q.id]["rewards"]]
    valid = [v for v in values if v is not None]
    return {"samples": len(values), "failed": len(values) - len(valid),
            "mean": statistics.fmean(valid) if valid else None,
            "std": statistics.pstdev(valid) if len(valid) > 1 else None}


def sample_and_score(folder: Path, name: str, queries: list[Any], policy: Path, cfg: Any, reward_model: Any,
                     seed: int, phase: str, progress: bool, label: str | None = None, retry_failed: bool = True
                     ) -> tuple[Journal, Journal, dict[str, Any]]:
    """Both steps into `<folder>/<name>samples.jsonl` and `<name>rewards.jsonl`; returns the
    journals (open: the caller closes them) and the counts and times. `retry_failed`: see
    `score` (off once training on these rewards has begun)."""
    import time

    samples = Journal(folder / f"{name}samples.jsonl")
    rewards = Journal(folder / f"{name}rewards.jsonl", replace=True)  # a record scored again supersedes
    t0 = time.monotonic()
    sampling = sample(samples, queries, policy, cfg, seed, phase, progress, label)
    t1 = time.monotonic()
    scoring = score(samples, rewards, queries, reward_model, label or phase, progress, retry_failed)
    t2 = time.monotonic()
    info = {"sampling": sampling, "scoring": scoring, "reward": reward_stats(rewards, queries),
            "seconds": {"sampling": round(t1 - t0, 2), "scoring": round(t2 - t1, 2)}}
    return samples, rewards, info


def paired_reward_delta(before: Path, after: Path, queries: list[Any]) -> dict[str, Any]:
    """Mean reward after minus before on the same prompts (both rewards journals), with a
    paired percentile-bootstrap 95% interval over prompts (bolt_eval.stats.paired_delta):
    each prompt weighs by its scored samples."""
    from bolt_eval.stats import paired_delta

    sides = []
    for path in (before, after):
        records = Journal(path, replace=True).records
        values, weights = [], []
        for q in queries:
            valid = [v for v in records[q.id]["rewards"] if v is not None]
            values.append(statistics.fmean(valid) if valid else float("nan"))
            weights.append(float(len(valid)))
        sides.append((values, weights))
    return paired_delta(sides[0], sides[1]).to_dict()
