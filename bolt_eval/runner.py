"""The one evaluation path: task -> samples -> backend -> split -> score -> judge -> store.

`evaluate(config)` is the Python API; the CLI, nox sessions and training stages all call
it. It runs in three phases: generate what is missing for every task (the candidate model
is loaded only if something is), judge what is unjudged (the judge likewise), then
aggregate. Generation is done in chunks of samples, each finished sample appended durably;
judgments go to the ledger chunk by chunk. The tasks' samples share chunks, and the runs
that share a judge are judged in one pass, so a local engine batches across tasks. A
killed run loses at most the samples in flight (a chunk, and the later turns of the one
before) and the same call resumes it. A sample that
fails (an API error after retries, a missing replay answer) stops neither the other
samples nor the other tasks: they are generated, judged and saved, and the evaluation
ends `incomplete` (exit 2) for the same call to retry the failed ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bolt_eval import __version__
from bolt_eval.adoption import adoption
from bolt_eval.backends.base import BackendSpec, LazyBackend
from bolt_eval.benchmarks.base import Dataset, Task, select
from bolt_eval.best_of import BestOf, choose_all, resolve, reuse_samples, run_config
from bolt_eval.generation import generate_missing
from bolt_eval.judging.constrained import expected_records
from bolt_eval.judging.batch import BatchSettings, adopt, judge_in_batches
from bolt_eval.judging.cost import Budget, BudgetReached, Meter, load_prices
from bolt_eval.judging.judge import Judge, JudgeSpec
from bolt_eval.judging import noise
from bolt_eval.judging.ledger import Ledger
from bolt_eval.judging.phase import Judged, judge_records, prompts_for
from bolt_eval.judging.templates import Template
from bolt_eval.progress import progress_bar
from bolt_eval.registry import backends, benchmarks
from bolt_eval.store import Run, Store, config_hash
from bolt_eval.thoughts import get_delimiters
from bolt_eval.types import Sample, SamplingParams, UserError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    data: str | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # task-specific (Task.OPTIONS)


@dataclass
class EvalConfig:
    tasks: list[TaskSpec]
    backend: BackendSpec
    sampling: SamplingParams = field(default_factory=SamplingParams)
    thoughts: str = "none"
    out: str = "results"
    label: str | None = None  # name used in run ids and tables; defaults to the model
    chunk: int | None = None  # samples between durable writes; default: backend.chunk_size
    progress: bool = True
    judge: JudgeSpec | None = None  # None: each judged task's official judge (an API model)
    max_judge_failures: float = 0.0  # a judged run fails when more judgments than this lack a verdict
    budget_usd: float | None = None  # stop cleanly once this much is spent; the next run continues
    prices: str | None = None  # price table; default tasks/prices.yaml
    batch: BatchSettings | None = None  # judge through OpenAI Batch API jobs (judging/batch.py); None: live calls
    judge_noise: Any = None  # --judge-repeats K --judge-repeat-share S (judging/noise.py NoiseSpec)
    best_of: BestOf | None = None  # --best-of N --reward SPEC: a reward model keeps one of N answers (best_of.py)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    dir: Path
    task: str
    summary: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.manifest["status"] == "complete"


class IncompleteRun(UserError):
    """Some samples failed (API errors, missing replay answers); finished ones are kept."""


@dataclass
class Plan:
    """One task of an evaluation, resolved: its data, its judge and its run folder."""

    task: Task
    dataset: Dataset
    samples: list[Sample]
    run_id: str
    manifest: dict[str, Any]
    judge: Judge | None = None
    templates: dict[str, Template] = field(default_factory=dict)
    choice: Any = None  # Best-of-N: the answer kept of each sample (best_of.Choice)


def judge_spec_for(task: Task, cfg: EvalConfig) -> JudgeSpec:
    """The user's judge, or the task's official one through the OpenAI API."""
    return cfg.judge or JudgeSpec(BackendSpec("openai", str(task.official_judge), concurrency=16))


def plan(cfg: EvalConfig, ledger: Ledger | None, budget: Budget, prices: dict[str, Any]) -> list[Plan]:
    """Load and check every task and judge before anything runs; name every run folder.
    Nothing is loaded that is not needed to know what a run is."""
    get_delimiters(cfg.thoughts)
    identity = backends.get(cfg.backend.backend).identity(cfg.backend)
    judges: dict[str, Judge] = {}
    plans = []
    for spec in cfg.tasks:
        task: Task = benchmarks.get(spec.name)(data=spec.data, **spec.options)
        dataset = task.load()
        config: dict[str, Any] = {
            "task": task.name, "task_version": task.version,
            "data": {"source": dataset.source, "sha256": dataset.sha256},
            "prompt_template_sha256": _sha(task.template_text()),
            "backend": identity, "sampling": cfg.sampling.to_dict(), "thoughts": cfg.thoughts,
        }
        generation_hash = config_hash(config)
        if cfg.best_of:
            config["best_of"] = run_config(cfg.best_of, config, dataset.samples)
        if spec.options:  # they change scoring, not answers: a new run that reuses the answers
            config["task_options"] = dict(sorted(spec.options.items()))
        judge, templates = None, {}
        if task.official_judge:
            assert ledger is not None
            jspec = judge_spec_for(task, cfg)
            key = repr(jspec)
            if key not in judges:
                judges[key] = Judge(jspec, ledger, Meter.for_model(jspec.backend.backend, jspec.backend.model, prices), budget)
                if cfg.batch:  # priced at the batch rate, never called live
                    adopt(judges[key], cfg.batch)
                budget.require_prices(judges[key].meter)
            judge, templates = judges[key], task.judge_templates()
            config["judge"] = _judge_config(task, judge, templates)
        chash = config_hash(config)
        run_id = Store(cfg.out).run_id(cfg.label or cfg.backend.model, task.name, chash)
        if any(p.run_id == run_id for p in plans):
            raise UserError(f"task {task.name} is listed twice with the same data and settings; list it once")
        manifest = _manifest(run_id, chash, config, cfg, len(select(dataset.samples, spec.limit)))
        manifest["generation_hash"] = generation_hash
        plans.append(Plan(task, dataset, select(dataset.samples, spec.limit), run_id, manifest, judge, templates))
    return plans


def _judge_config(task: Task, judge: Judge, templates: dict[str, Template]) -> dict[str, Any]:
    identity = json.loads(judge.id)
    sources = sorted({t.source for t in templates.values()})
    b = judge.spec.backend
    official = (b.backend == "openai" and b.model == task.official_judge  # on OpenAI's own API (or Azure's)
                and (b.base_url is None or "openai" in b.base_url)
                and all(s.startswith(("package:", "url:")) for s in sources))
    return {
        "model": identity, "official": task.official_judge, "substitute": not official,
        "templates": {n: t.sha256 for n, t in sorted(templates.items())}, "template_source": sources,
        "parsers": sorted({t.parser for t in templates.values()}),
        "sampling": judge.spec.params.to_dict(), "parse_retries": judge.spec.parse_retries,
        **({"verdicts": "free, else constrained"} if judge.constrain else {}),
        **({"expected_score": True} if judge.spec.expected_score else {}),
    }


def evaluate(cfg: EvalConfig) -> list[RunResult]:
    cfg = resolve(cfg)  # Best-of-N: n = N, label -boN
    if any(t.name.startswith("lm-eval:") for t in cfg.tasks):  # lm-eval tasks: bolt_eval/lmeval/run.py
        from bolt_eval.lmeval.run import evaluate_with_lm_eval
        return evaluate_with_lm_eval(cfg, evaluate)
    backends.get(cfg.backend.backend)  # a typo fails before any data is loaded
    prices = load_prices(cfg.prices)
    budget = Budget(cfg.budget_usd)
    meter = Meter.for_model(cfg.backend.backend, cfg.backend.model, prices)
    budget.require_prices(meter)
    store = Store(cfg.out)
    with ExitStack() as stack:
        ledger = stack.enter_context(store.ledger()) if _any_judged(cfg) else None
        plans = plan(cfg, ledger, budget, prices)
        for judge in {id(p.judge): p.judge for p in plans if p.judge}.values():
            stack.callback(judge.close)
        for p in plans:  # fail now, before any folder or generation, when a needed backend cannot work
            store.check(p.run_id, p.manifest)
            p.task.preflight()
            done = store.peek(p.run_id)
            if not all(s.id in done for s in p.samples):
                backends.get(cfg.backend.backend).preflight(cfg.backend)
            if p.judge and (_judge_calls_needed(p, done) or noise.repeats_needed(p, done, cfg.judge_noise)):
                backends.get(p.judge.spec.backend.backend).preflight(p.judge.spec.backend)
        # folders are locked in one global order, so runs of the same tasks listed in another order never deadlock
        opened = {p.run_id: stack.enter_context(store.open(p.run_id, p.manifest))
                  for p in sorted(plans, key=lambda p: p.run_id)}
        runs = [opened[p.run_id] for p in plans]
        candidate = LazyBackend(cfg.backend)
        stack.callback(candidate.close)
        shared = [p.judge for p in plans if p.judge and p.judge.spec.backend == cfg.backend]
        for judge in shared:  # the model judges itself: one engine (or server) for both roles
            judge.backend = candidate
        delims = get_delimiters(cfg.thoughts)
        for p, run in zip(plans, runs):
            store.reuse_answers(run, p.manifest["generation_hash"])
            if cfg.best_of:
                reuse_samples(store, run, p.manifest)
        failures = generate_missing(plans, runs, candidate, cfg, delims, budget, meter)
        if not shared:
            candidate.close()  # free its memory before a local judge loads
        if budget.exhausted:  # some answers are missing: nothing to judge or aggregate yet
            raise _budget_reached(cfg, budget)
        if cfg.best_of:  # the reward model picks before anything is judged
            choose_all(plans, runs, cfg)
        if cfg.batch:  # every pending judgment of every task as Batch API jobs; the loop below reads the ledger
            judge_in_batches(plans, runs, cfg.batch, budget, cfg.progress)
        judgments = _judge_all(plans, runs, cfg)
        results = []
        for p, run in zip(plans, runs):
            judged, calls = judgments.get(p.run_id, (None, []))
            if judged is not None:
                if cfg.judge_noise:  # the judge asked again about a share of the items
                    judged = noise.judge_again(judged, calls, p.judge, cfg.judge_noise, p.task.name, cfg.progress)
                run.write_judgments(judged.records)
            if all(s.id in run.records for s in p.samples):  # none failed
                results.append(_finish(run, p, judged, cfg, meter, budget))
        if failures:
            raise IncompleteRun("; ".join(failures))
    if budget.exhausted:
        raise _budget_reached(cfg, budget)
    return results


def _judge_all(plans: list[Plan], runs: list[Run], cfg: EvalConfig) -> dict[str, tuple[Judged, list[Any]]]:
    """Each judged run's judgments and judge calls, by run id; the runs that share a judge
    are judged in one pass of it (a local judge batches across tasks)."""
    members: dict[int, list[tuple[Plan, list[dict[str, Any]], list[Any]]]] = {}
    for p, run in zip(plans, runs):
        samples = [s for s in p.samples if s.id in run.records]  # all of them unless some failed
        if p.judge is not None and samples:
            records = _records(run, p, samples)
            members.setdefault(id(p.judge), []).append((p, records, prompts_for(p.task, samples, records, p.templates)))
    out = {}
    for group in members.values():
        judge = group[0][0].judge
        assert judge is not None
        bar = progress_bar(sum(len(c) for *_, c in group), "judge", cfg.progress)
        judged = judge_records([(records, calls) for _, records, calls in group], judge, bar.update)
        bar.close()
        out.update({p.run_id: (j, calls) for (p, _, calls), j in zip(group, judged)})
    return out


def _budget_reached(cfg: EvalConfig, budget: Budget) -> BudgetReached:
    return BudgetReached(
        f"the budget of ${cfg.budget_usd:.2f} is reached (spent ${budget.spent_usd:.2f}); everything "
        "finished is saved: re-run the same command (with a new --budget) to continue")


def _judge_calls_needed(p: Plan, done: dict[str, dict[str, Any]]) -> bool:
    assert p.judge is not None
    if not all(s.id in done for s in p.samples):
        return True
    records = [done[s.id] for s in p.samples]
    return bool(p.judge.pending([c for *_, c in prompts_for(p.task, p.samples, records, p.templates)]))


def _any_judged(cfg: EvalConfig) -> bool:
    return any(benchmarks.get(t.name).official_judge for t in cfg.tasks)


def _finish(run: Run, p: Plan, judged: Judged | None, cfg: EvalConfig, meter: Meter, budget: Budget) -> RunResult:
    task = p.task
    records = judged.records if judged else _records(run, p, p.samples)
    metrics = task.aggregate(p.samples, records)
    name, est = task.headline(metrics)
    summary: dict[str, Any] = {"task": task.name, "task_version": task.version, "n_samples": len(p.samples),
                               "headline": {"metric": name, "unit": task.unit, **est.to_dict()}, "metrics": metrics}
    if (fmt := adoption(records, cfg.thoughts)) is not None:  # long-CoT format adoption, beside the headline
        summary["adoption"] = fmt
    if (repeats := noise.summarise(task, p.samples, records, cfg.judge_noise, summary["headline"])) is not None:
        summary["judge_noise"] = repeats  # the judge's variability, the headline's CI incl. judge noise
    if p.choice:
        summary["best_of"] = p.choice.summary
    turns = [t for s in p.samples for o in run.records[s.id]["outputs"] for t in o["turns"]]  # all N of Best-of-N
    tokens: dict[str, Any] = {"candidate": {"prompt": sum(t["prompt_tokens"] for t in turns),
                                            "completion": sum(t["completion_tokens"] for t in turns)}}
    cost = {"candidate": meter.usd(tokens["candidate"]["prompt"], tokens["candidate"]["completion"])}
    status = "complete"
    if judged and p.judge:
        summary["coverage"] = judged.coverage
        summary["judge"] = {"model": p.judge.spec.backend.model, "substitute": run.manifest["config"]["judge"]["substitute"]}
        if p.judge.spec.expected_score and (expected := expected_records(records)) is not None:
            metric, est = task.headline(task.aggregate(p.samples, expected))  # the task's own arithmetic, G-Eval grades
            summary["expected_score"] = {"metric": f"{metric} (expected)", "unit": task.unit, **est.to_dict()}
        tokens["judge"] = judged.tokens
        cost["judge"] = p.judge.meter.usd(judged.tokens["prompt"], judged.tokens["completion"])
        if judged.coverage["by_status"].get("pending"):
            status = "budget_reached"
        elif 1 - judged.coverage["rate"] > cfg.max_judge_failures + 1e-12:
            status = "judge_failures"
    run.write_summary(summary)
    known = [c for c in cost.values() if c is not None]
    run.manifest.update(status=status, finished=_now(), tokens=tokens,
                        cost_usd={**cost, "total": sum(known) if len(known) == len(cost) else None})
    run.manifest["runtime"]["judge_calls"] = judged.calls_made if judged else 0
    run.manifest.pop("failed", None)
    run.write_manifest()
    return RunResult(run.dir.name, run.dir, task.name, summary, run.manifest)


def _records(run: Run, p: Plan, samples: list[Sample]) -> list[dict[str, Any]]:
    """The records scored: each sample's answer kept by Best-of-N, else all its outputs."""
    return [p.choice.picked[s.id] if p.choice else run.records[s.id] for s in samples]


def _manifest(run_id: str, chash: str, config: dict[str, Any], cfg: EvalConfig, n: int) -> dict[str, Any]:
    spec = cfg.backend
    return {
        "run_id": run_id, "config_hash": chash, "config": config, "status": "running",
        "label": cfg.label or spec.model, "n_samples": n, "started": _now(),
        "runtime": {"batch_size": spec.batch_size, "concurrency": spec.concurrency,
                    "device": spec.device or "auto", "argv": sys.argv[1:]},
        "package_version": __version__, "git_sha": _git_sha(),
    }


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
