"""One iteration of stage 3 (online.py runs them): sample, score and pair for DPO (or train
RLOO / REINFORCE / PPO on the ORM), save `iter-<i>/final/`, evaluate it, and measure the
policy's mean ORM reward on the held-out prompts."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bolt_eval.store import dump, write_atomic
from bolt_eval.training.recipe import Recipe
from bolt_eval.training.workdir import StageDir, write_jsonl
from bolt_eval.types import UserError

STAGE = "online"


def held_out_reward(folder: Path, held_out: list[Any], policy: Path, cfg: Any, reward_model: Any, seed: int,
                    iteration: int, progress: bool) -> dict[str, Any] | None:
    """The policy's mean ORM reward on the held-out prompts (held_out_n samples each, else n;
    the other sampling settings as the iteration's)."""
    from bolt_eval.training.online_samples import paired_reward_delta, sample_and_score

    if not held_out:
        return None
    folder = folder / "held-out"
    # the same per-prompt seeds for every iteration: the policies are compared on common draws
    if cfg.held_out_n is not None:
        cfg = cfg.model_copy(update={"n": cfg.held_out_n})
    samples, rewards, info = sample_and_score(folder, f"iter-{iteration}.", held_out, policy, cfg, reward_model, seed,
                                              "held-out", progress, label=f"held-out iter-{iteration}")
    samples.close()
    rewards.close()
    if iteration > 0:
        mine = folder / f"iter-{iteration}.rewards.jsonl"
        info["delta_vs_previous"] = paired_reward_delta(folder / f"iter-{iteration - 1}.rewards.jsonl", mine, held_out)
        info["delta_vs_start"] = paired_reward_delta(folder / "iter-0.rewards.jsonl", mine, held_out)
    return info


class Iteration:
    """One iteration of stage 3 in `online/iter-<i>/`."""

    def __init__(self, recipe: Recipe, stage: StageDir, key: str, i: int, init: Path, queries: list[Any],
                 held_out: list[Any], reward_model: Any, progress: bool) -> None:
        self.recipe, self.cfg, self.stage, self.key, self.i = recipe, recipe.online, stage, key, i
        self.dir = stage.dir / f"iter-{i}"
        self.init, self.held_out, self.reward_model, self.progress = init, held_out, reward_model, progress
        self.policy = init if i == 1 else stage.dir / f"iter-{i - 1}" / "final"
        self.reference = init if self.cfg.reference == "sft" else self.policy
        self.queries = iteration_prompts(queries, self.cfg.prompts_per_iteration, i)

    def run(self) -> dict[str, Any]:
        old = read_manifest(self.dir)
        if old.get("status") == "complete" and old.get("config_hash") == self.key:
            return old
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.dir / "final"  # written whole or not at all (policy_rl.save_final)
        if final.is_dir() and "training" in old:  # trained, killed while evaluating: keep the model
            record = old
        else:
            record = {"iteration": self.i, "status": "running", "config_hash": self.key,
                      "algorithm": self.cfg.algorithm, "policy_from": str(self.policy),
                      "reference": {"kind": self.cfg.reference, "model": str(self.reference)},
                      "prompts": len(self.queries), "seconds": {}}
            self._write(record)
            if self.cfg.algorithm == "dpo":
                self._dpo(record, final)
            elif self.cfg.algorithm == "ppo":
                self._ppo(record, final)
            else:
                self._rl(record, final)
            self._write(record)
            # trainer checkpoints (weights + optimizer state) only serve a resume: free the disk
            for folder in (self.dir / "trainer").glob("checkpoint-*"):
                shutil.rmtree(folder)
        if self.recipe.eval.mode == "inline":
            from bolt_eval.training.autoeval import evaluate_checkpoint  # transformers: not on report's path

            t0 = time.monotonic()
            entry = evaluate_checkpoint(self.recipe, final, stage=STAGE, iteration=self.i, progress=self.progress)
            record["evaluation"] = {"label": entry["label"], "headlines": entry["headlines"],
                                    "adoption": entry.get("adoption", {})}
            record["seconds"]["evaluation"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        record["held_out_reward"] = held_out_reward(self.stage.dir, self.held_out, final, self.cfg, self.reward_model,
                                                    self.recipe.seed, self.i, self.progress)
        record["seconds"]["held_out"] = round(time.monotonic() - t0, 2)
        record.update(status="complete", final=str(final))
        self._write(record)
        return record

    def _dpo(self, record: dict[str, Any], final: Path) -> None:
        from bolt_eval.training.checkpoints import last_checkpoint
        from bolt_eval.training.online_samples import sample_and_score
        from bolt_eval.training.pairs import select_pairs
        from bolt_eval.training.policy_dpo import dpo_args, train_dpo

        started = last_checkpoint(self.dir / "trainer") is not None  # its pairs must stay as trained on
        samples, rewards, info = sample_and_score(self.dir, "", self.queries, self.policy, self.cfg, self.reward_model,
                                                  self.recipe.seed, f"iter-{self.i}", self.progress,
                                                  retry_failed=not started)
        try:
            groups = {q.id: rewards.records[q.id]["rewards"] for q in self.queries}
            pairs, counts = select_pairs(groups)
            by_id = {q.id: q for q in self.queries}
            rows = [{"prompt": [{"role": "user", "content": by_id[p.prompt_id].prompt}],
                     "chosen": [{"role": "assistant", "content": samples.records[p.prompt_id]["samples"][p.chosen]["text"]}],
                     "rejected": [{"role": "assistant",
                                   "content": samples.records[p.prompt_id]["samples"][p.rejected]["text"]}],
                     "prompt_id": p.prompt_id, "chosen_index": p.chosen, "rejected_index": p.rejected,
                     "chosen_reward": p.chosen_reward, "rejected_reward": p.rejected_reward} for p in pairs]
        finally:
            samples.close()
            rewards.close()
        record.update(sampling=info["sampling"], scoring=info["scoring"], reward=info["reward"],
                      pairs=counts.to_dict(), pairs_sha256=write_jsonl(self.dir / "pairs.jsonl", rows))
        record["seconds"].update(info["seconds"])
        self._write(record)
        if not rows:
            raise UserError(f"{self.dir}: no preference pairs ({counts.to_dict()['dropped']} groups dropped): every "
                            "prompt's samples got equal or failed rewards; raise online.n or online.temperature, or "
                            "check the reward model's errors in rewards.jsonl")
        args = dpo_args(self.cfg, self.dir / "trainer", self.recipe.seed, self.progress)
        record["trainer_args"] = _args_record(args)
        t0 = time.monotonic()
        keys = ("prompt", "chosen", "rejected")
        history, resumed = train_dpo(self.policy, self.reference, [{k: r[k] for k in keys} for r in rows], self.cfg,
                                     self.dir / "trainer", final, self.recipe.seed, self.progress)
        record["seconds"]["training"] = round(time.monotonic() - t0, 2)
        record.update(training=_log_record(history), resumed_from=resumed)

    def _rl(self, record: dict[str, Any], final: Path) -> None:
        from bolt_eval.training.policy_rl import orm_reward, prompt_rows, rl_config, train_rl

        args = rl_config(self.cfg.algorithm, self.cfg, self.dir / "trainer", self.recipe.seed, self.progress)
        record["trainer_args"] = _args_record(args)
        reward = orm_reward(self.reward_model, _eos_ids(self.policy))
        t0 = time.monotonic()
        history, resumed = train_rl(self.cfg.algorithm, self.policy, self.reference, prompt_rows(self.queries),
                                    [reward], self.cfg, self.dir / "trainer", final, self.recipe.seed, self.progress)
        record["seconds"]["training"] = round(time.monotonic() - t0, 2)
        record.update(training=_log_record(history), resumed_from=resumed)

    def _ppo(self, record: dict[str, Any], final: Path) -> None:
        from bolt_eval.training.policy_ppo import train_ppo

        self.reward_model.close()  # the PPO step loads its own copy as trl's reward model: free this one
        t0 = time.monotonic()
        out = train_ppo(self.policy, self.reference, [q.prompt for q in self.queries], self.recipe,
                        self.dir / "trainer", final, self.progress)
        record["seconds"]["training"] = round(time.monotonic() - t0, 2)
        record.update(trainer_args=out["trainer_args"], training=_log_record(out["log_history"]), resumed_from=None,
                      ppo_environment=out["environment"])

    def _write(self, record: dict[str, Any]) -> None:
        write_atomic(self.dir / "manifest.json", dump(record))


def iteration_prompts(queries: list[Any], per_iteration: int | None, i: int) -> list[Any]:
    """All prompts each iteration, or the i-th slice of `per_iteration` (wrapping around)."""
    if not per_iteration or per_iteration >= len(queries):
        return list(queries)
    start = (i - 1) * per_iteration
    return [queries[(start + k) % len(queries)] for k in range(per_iteration)]


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: corrupt manifest ({err.msg}); remove the file to redo the iteration") from err


def _eos_ids(policy: Path) -> set[int]:
    from transformers import AutoTokenizer, GenerationConfig

    ids = {AutoTokenizer.from_pretrained(policy).eos_token_id}
    if (policy / "generation_config.json").is_file():
        eos = GenerationConfig.from_pretrained(policy).eos_token_id
        ids |= set(eos if isinstance(eos, list) else [eos])
    return {i for i in ids if i is not None}


def _plain(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, type(None)))


def _args_record(args: Any) -> dict[str, Any]:
    keep = ("num_train_epochs", "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
            "lr_scheduler_type", "warmup_steps", "weight_decay", "beta", "max_length", "loss_type", "loss_weights",
            "num_generations",
            "scale_rewards", "num_iterations", "temperature", "top_p", "max_completion_length", "seed", "bf16",
            "use_cpu")
    out = {"class": type(args).__name__}
    for k in keep:
        if hasattr(args, k):
            v = getattr(args, k)
            out[k] = v if _plain(v) or (isinstance(v, list) and all(map(_plain, v))) else str(v)
    return out


def _log_record(history: list[dict[str, Any]]) -> dict[str, Any]:
    from bolt_eval.training.policy_rl import summarize_log

    return summarize_log(history)
