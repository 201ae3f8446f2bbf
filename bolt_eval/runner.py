"""The one evaluation path: task -> samples -> backend -> split -> score -> store.

`evaluate(config)` is the Python API; the CLI, nox sessions and training stages all call
it. Work is done in chunks of samples; each finished sample is appended durably, so a
killed run loses at most the chunk in flight and the same call resumes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bolt_eval import __version__
from bolt_eval.backends.base import Backend, BackendSpec, build_backend
from bolt_eval.benchmarks.base import Task, select
from bolt_eval.registry import backends, benchmarks
from bolt_eval.store import Run, Store, config_hash
from bolt_eval.thoughts import get_delimiters, split_response
from bolt_eval.types import Completion, Message, Request, Sample, SamplingParams, UserError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    data: str | None = None
    limit: int | None = None


@dataclass
class EvalConfig:
    tasks: list[TaskSpec]
    backend: BackendSpec
    sampling: SamplingParams = field(default_factory=SamplingParams)
    thoughts: str = "none"
    out: str = "results"
    label: str | None = None  # name used in run ids; defaults to the model
    chunk: int | None = None  # samples between durable writes; default: batch or concurrency
    progress: bool = True


@dataclass(frozen=True)
class RunResult:
    run_id: str
    dir: Path
    task: str
    summary: dict[str, Any]
    manifest: dict[str, Any]


class IncompleteRun(UserError):
    """Some samples failed (API errors, missing replay answers); finished ones are kept."""


def evaluate(cfg: EvalConfig) -> list[RunResult]:
    delims = get_delimiters(cfg.thoughts)
    backends.get(cfg.backend.backend)  # a typo fails before any data is loaded
    prepared = []
    for spec in cfg.tasks:  # validate every task and its data before touching anything
        task: Task = benchmarks.get(spec.name)(data=spec.data)
        dataset = task.load()
        prepared.append((spec, task, dataset, select(dataset.samples, spec.limit)))
    results = []
    with build_backend(cfg.backend) as backend:
        identity = backend.describe()
        for spec, task, dataset, samples in prepared:
            config = {
                "task": task.name, "task_version": task.version,
                "data": {"source": dataset.source, "sha256": dataset.sha256},
                "prompt_template_sha256": _sha(task.template_text()),
                "backend": identity, "sampling": cfg.sampling.to_dict(), "thoughts": cfg.thoughts,
            }
            chash = config_hash(config)
            store = Store(cfg.out)
            run_id = store.run_id(cfg.label or cfg.backend.model, task.name, chash)
            manifest = _manifest(run_id, chash, config, cfg, len(samples))
            with store.open(run_id, manifest) as run:
                _generate_missing(run, task, samples, backend, cfg, delims)
                results.append(_finish(run, task, samples))
    return results


def _generate_missing(run: Run, task: Task, samples: list[Sample], backend: Backend,
                      cfg: EvalConfig, delims: Any) -> None:
    todo = [s for s in samples if s.id not in run.records]
    failures: list[str] = []
    bar = _bar(sum(len(s.turns) for s in todo), f"{task.name}", cfg.progress)
    size = cfg.chunk or max(cfg.backend.batch_size, cfg.backend.concurrency)
    for start in range(0, len(todo), size):
        chunk = todo[start:start + size]
        outputs = _generate_chunk(chunk, task, backend, cfg.sampling, bar.update)
        for sample, trajectories in zip(chunk, outputs):
            errors = [c.error for traj in trajectories for _, c in traj if c.error]
            if errors:
                failures.append(f"{sample.id}: {errors[0]}")
                continue
            run.append(_record(sample, trajectories, task, delims))
    bar.close()
    if failures:
        run.manifest.update(status="incomplete", failed=len(failures))
        run.write_manifest()
        raise IncompleteRun(
            f"{task.name}: {len(failures)} of {len(samples)} samples failed, first: {failures[0]}. "
            f"Finished samples are kept in {run.dir}; re-run the same command to retry the rest"
        )


def _generate_chunk(chunk: list[Sample], task: Task, backend: Backend, base: SamplingParams,
                    advance: Any) -> list[list[list[tuple[str, Completion]]]]:
    """Each sample -> n trajectories -> per turn (user prompt, completion). Turn t+1 is
    asked after the model's own answer to turn t, trajectory by trajectory."""
    params = [task.sampling(s, base) for s in chunk]
    trajs: list[list[list[tuple[str, Completion]]]] = [[[] for _ in range(p.n)] for p in params]
    for turn in range(max(len(s.turns) for s in chunk)):
        requests, slots = [], []
        for i, s in enumerate(chunk):
            if turn >= len(s.turns):
                continue
            prompt = task.prompt(s, turn)
            if turn == 0:  # one request, n samples
                requests.append(Request(s.id, 0, _messages(s, [], prompt), params[i]))
                slots.append((i, None))
            else:
                for k, traj in enumerate(trajs[i]):
                    if traj[-1][1].error:
                        continue
                    requests.append(Request(s.id, turn, _messages(s, traj, prompt),
                                            params[i].with_(n=1, seed=params[i].seed + k)))
                    slots.append((i, k))
        outs = backend.generate(requests, progress=advance) if requests else []
        for (i, k), req, completions in zip(slots, requests, outs):
            prompt = req.messages[-1]["content"]
            targets = range(len(trajs[i])) if k is None else [k]
            for kk, c in zip(targets, completions):
                trajs[i][kk].append((prompt, c))
    return trajs


def _messages(sample: Sample, history: list[tuple[str, Completion]], prompt: str) -> tuple[Message, ...]:
    msgs: list[Message] = [{"role": "system", "content": sample.system}] if sample.system else []
    for user, c in history:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": c.text}]
    return tuple(msgs + [{"role": "user", "content": prompt}])


def _record(sample: Sample, trajectories: list[list[tuple[str, Completion]]], task: Task, delims: Any) -> dict[str, Any]:
    outputs = []
    for traj in trajectories:
        turns = []
        for prompt, c in traj:
            sp = split_response(c.text, delims)
            turns.append({
                "prompt": prompt, "response": c.text, "thoughts": sp.thoughts,
                "solution": sp.solution, "thoughts_closed": sp.thoughts_closed,
                "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens, "latency_s": round(c.latency_s, 4),
            })
        outputs.append({"turns": turns, "score": task.score(sample, [t["solution"] for t in turns])})
    return {"id": sample.id, "outputs": outputs}


def _finish(run: Run, task: Task, samples: list[Sample]) -> RunResult:
    records = [run.records[s.id] for s in samples]
    metrics = task.aggregate(samples, records)
    name, est = task.headline(metrics)
    summary = {"task": task.name, "task_version": task.version, "n_samples": len(samples),
               "headline": {"metric": name, **est.to_dict()}, "metrics": metrics}
    run.write_summary(summary)
    turns = [t for r in records for o in r["outputs"] for t in o["turns"]]
    run.manifest.update(
        status="complete", finished=_now(),
        tokens={"candidate": {"prompt": sum(t["prompt_tokens"] for t in turns),
                              "completion": sum(t["completion_tokens"] for t in turns)}},
    )
    run.manifest.pop("failed", None)
    run.write_manifest()
    return RunResult(run.dir.name, run.dir, task.name, summary, run.manifest)


def _manifest(run_id: str, chash: str, config: dict[str, Any], cfg: EvalConfig, n: int) -> dict[str, Any]:
    spec = cfg.backend
    return {
        "run_id": run_id, "config_hash": chash, "config": config, "status": "running",
        "label": cfg.label or spec.model, "n_samples": n, "started": _now(),
        "runtime": {"batch_size": spec.batch_size, "concurrency": spec.concurrency,
                    "device": spec.device or "auto", "argv": sys.argv[1:]},
        "package_version": __version__, "git_sha": _git_sha(),
    }


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="gen", disable=not enabled or total == 0,
                file=sys.stderr, mininterval=1.0, dynamic_ncols=True)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
