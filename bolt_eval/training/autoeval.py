"""Every checkpoint evaluated, through the one evaluation path, into the run's trajectory.

A training stage (or `bolt-eval watch`) hands a checkpoint folder here; it is evaluated by
`bolt_eval.runner.evaluate` exactly as `bolt-eval run` would (same run API, same store,
results under `<output_dir>/results/`) on the recipe's evaluation suite with the recipe's
thoughts preset, labelled `<recipe>/<stage>/step-<N>` (or `iter-<i>`), and appended to
`<output_dir>/trajectory.jsonl`. A checkpoint whose weight fingerprint is already there is
not evaluated again, so resuming a trainer (or restarting a watcher) never pays twice. A
LoRA adapter is evaluated as it is served: merged into its base beside the adapter.

`EvalOnSave` is the trl/transformers callback (`on_save` fires once each checkpoint is on
disk). It evaluates in the trainer's process (`eval.mode: inline`); with `eval.mode: watch`
it does nothing and `bolt-eval watch` evaluates elsewhere, so training never waits.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from bolt_eval.training.checkpoints import fingerprint, is_checkpoint, is_lora, merge_lora, step_of
from bolt_eval.training.recipe import EvalSettings, resolve_path
from bolt_eval.training.trajectory import Trajectory


def eval_config(settings: EvalSettings, thoughts: str, model: str, label: str, out: Path, progress: bool) -> Any:
    """The EvalConfig `bolt-eval run --suite S --model M --label L` would build."""
    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.judging.judge import JudgeSpec
    from bolt_eval.runner import EvalConfig, TaskSpec
    from bolt_eval.suites import load_suite
    from bolt_eval.types import SamplingParams

    suite = None if settings.tasks else load_suite(settings.suite)
    if settings.tasks:
        tasks = [TaskSpec(t.name, str(resolve_path(t.data)) if t.data else None, t.limit or settings.limit)
                 for t in settings.tasks]
    else:
        tasks = [TaskSpec(t.name, t.data, settings.limit or t.limit, dict(t.options)) for t in suite.tasks]
    sampling: dict[str, Any] = dict(suite.sampling) if suite else {}
    if settings.max_new_tokens:
        sampling["max_new_tokens"] = settings.max_new_tokens
    if "stop" in sampling:
        sampling["stop"] = tuple(sampling["stop"])
    backend = settings.backend
    spec = BackendSpec(backend, model, batch_size=settings.batch_size or (256 if backend == "vllm" else 16))
    judge = None
    sj = suite.judge if suite else None
    if settings.judge is not None or sj is not None:
        if settings.judge is not None:
            jbackend = settings.judge.spec()
        else:
            local = sj.model == "default" or Path(sj.model).expanduser().exists()
            jbackend = BackendSpec(sj.backend or ("hf" if local else "openai"), sj.model)
        judge = JudgeSpec(jbackend, params=SamplingParams(temperature=0.0, max_new_tokens=(sj and sj.max_new_tokens) or 2048),
                          parse_retries=sj.parse_retries if sj and sj.parse_retries is not None else 2)
    return EvalConfig(tasks=tasks, backend=spec, sampling=SamplingParams(**sampling), thoughts=thoughts,
                      out=str(out), label=label, progress=progress, judge=judge,
                      max_judge_failures=(suite.max_judge_failures if suite and suite.max_judge_failures is not None
                                          else 0.0))


def evaluate_model(settings: EvalSettings, thoughts: str, model: str | Path, *, label: str, trajectory: Trajectory,
                   results: Path, stage: str, iteration: int | None = None, step: int | None = None,
                   base_model: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Evaluate one model folder (a hub id or API name also works, keyed by its name) unless
    its fingerprint is in the trajectory; returns its trajectory entry."""
    from bolt_eval.runner import evaluate

    path = Path(model)
    local = path.exists()
    fp = fingerprint(path) if local else f"name:{model}"
    if (found := trajectory.find(fp)) is not None:
        return found
    started = time.monotonic()  # eval_seconds: what the checkpoint costs, a LoRA merge included
    served = merge_lora(path, base_model) if local and is_lora(path) else path
    print(f"bolt-eval: evaluating {label} ({served})", file=sys.stderr, flush=True)
    runs = evaluate(eval_config(settings, thoughts, str(served.resolve()) if local else str(model), label,
                                results, progress))
    entry = {
        "stage": stage, "iteration": iteration, "step": step, "label": label,
        "checkpoint": str(path.resolve()) if local else str(model), "fingerprint": fp,
        "lora": local and is_lora(path), "evaluated": str(served.resolve()) if local else str(model),
        "run_ids": [r.run_id for r in runs], "results": str(Path(results).resolve()),
        "headlines": {r.task: r.summary["headline"] for r in runs},
        "adoption": {r.task: r.summary["adoption"] for r in runs if r.summary.get("adoption")},
        "eval_seconds": round(time.monotonic() - started, 2),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if entry["lora"]:
        entry["note"] = "LoRA adapter merged into its base (peft merge_and_unload) and evaluated as served"
    trajectory.append(entry)
    return entry


def label_for(recipe: Any, stage: str, iteration: int | None, step: int | None) -> str:
    parts = [recipe.name, stage]
    if iteration is not None:
        parts.append(f"iter-{iteration}")
    if step is not None:
        parts.append(f"step-{step}")
    return "/".join(parts)


def evaluate_checkpoint(recipe: Any, checkpoint: Path | str, *, stage: str, iteration: int | None = None,
                        step: int | None = None, progress: bool = True) -> dict[str, Any]:
    """A training checkpoint of `recipe` into its trajectory (see the module docstring)."""
    trajectory = Trajectory(recipe.out)
    try:
        return evaluate_model(recipe.eval, recipe.thoughts, checkpoint, label=label_for(recipe, stage, iteration, step),
                              trajectory=trajectory, results=recipe.out / "results", stage=stage,
                              iteration=iteration, step=step, base_model=None, progress=progress)
    finally:
        trajectory.close()


def evaluate_init(recipe: Any, progress: bool = True) -> dict[str, Any]:
    """The model training starts from (`recipe.model`), as stage `init`, once."""
    from bolt_eval.models import resolve

    source = resolve(recipe.model, recipe.revision)
    model = source.location if source.kind != "hub" else recipe.model
    return evaluate_checkpoint(recipe, model, stage="init", progress=progress)


class EvalOnSave(TrainerCallback):  # type: ignore[misc]
    """Evaluate each checkpoint the trainer saves (`recipe.eval.mode == "inline"`).

    On train begin (a resumed run included) checkpoints already on disk but missing from
    the trajectory (the process was killed before or while evaluating them) are evaluated
    first, in step order; a save is thus evaluated exactly once across kills. Only the main
    process evaluates; on several GPUs the others wait for it at their next collective, so
    multi-GPU runs should use `eval.mode: watch` and a watcher on its own device."""

    def __init__(self, recipe: Any, stage: str, iteration: int | None = None, progress: bool = True) -> None:
        self.recipe, self.stage, self.iteration, self.progress = recipe, stage, iteration, progress

    def _active(self, state: Any) -> bool:
        return self.recipe.eval.mode == "inline" and state.is_world_process_zero

    def _evaluate(self, folder: Path, step: int | None) -> None:
        evaluate_checkpoint(self.recipe, folder, stage=self.stage, iteration=self.iteration, step=step,
                            progress=self.progress)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._active(state):
            return
        out = Path(args.output_dir)
        found = [p for p in out.glob("checkpoint-*") if is_checkpoint(p) and (p / "trainer_state.json").is_file()]
        for folder in sorted(found, key=lambda p: step_of(p) or 0):
            self._evaluate(folder, step_of(folder))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._active(state):
            self._evaluate(Path(args.output_dir) / f"checkpoint-{state.global_step}", state.global_step)
