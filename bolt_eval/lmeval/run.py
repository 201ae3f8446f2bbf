"""Run lm-eval tasks as bolt-eval runs: `bolt-eval run --tasks lm-eval:arc_challenge`.

Each `lm-eval:<name>` task is one call of `lm_eval.simple_evaluate` (Python API of
lm-evaluation-harness 0.4.x) with the run's model and backend (lmeval/models.py) and the
settings "Structure, not content" used for its retention table (Li et al., arXiv 2502.07374:
chat template applied, 0-shot), `--limit` per leaf task and `log_samples=True`. The result
is a run folder like any other (bolt_eval/store.py):

  manifest.json           config (hashed into the run id) + lm-eval version, task versions,
                          config and data hashes, model and model_args
  summary.json            the headline metric with lm-eval's stderr x 1.96 as the CI, and n
  samples.jsonl           one record per document: id `<leaf>/<doc_id>`, its metric value
  lm_eval_results.json    lm-eval's own results dict (samples left out)
  lm_eval_samples.jsonl   lm-eval's per-sample log, as it wrote it
  lm_eval_cache*.db       lm-eval's request cache: a killed run resumes without asking again

Tasks are loaded (datasets included) before any folder is made, so an offline machine gets
an error naming the task, the dataset and the fixes, and nothing is written. A finished run
with the same configuration is returned as it is, without loading anything but the task.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from typing import Any, Callable

from bolt_eval.lmeval import PREFIX, is_lm_eval
from bolt_eval.lmeval.items import headline, item_records, metric_key, paired_items, first_metric
from bolt_eval.types import UserError

OPTIONS = ("lm_eval_include", "metric", "gen_kwargs")  # task options an lm-eval task takes


def evaluate_with_lm_eval(cfg: Any, evaluate_rest: Callable[[Any], list[Any]]) -> list[Any]:
    """The runner's hook: bolt-eval's own tasks through `evaluate_rest`, then the lm-eval
    ones here; results in the order the tasks were given."""
    rest = [t for t in cfg.tasks if not is_lm_eval(t.name)]
    done = evaluate_rest(replace(cfg, tasks=rest)) if rest else []
    ours = [run_task(spec, cfg) for spec in cfg.tasks if is_lm_eval(spec.name)]
    order = [t.name for t in cfg.tasks]
    return sorted(done + ours, key=lambda r: order.index(r.task))


def run_task(spec: Any, cfg: Any) -> Any:
    """One lm-eval task as one bolt-eval run (a RunResult), reusing a finished one."""
    from bolt_eval.runner import RunResult
    from bolt_eval.store import Store

    name = spec.name[len(PREFIX):]
    if spec.data:
        raise UserError(f"--data {spec.data}: lm-eval task {name} takes its data from its own task YAML; for local "
                        "data write a custom task (dataset_path: json, data_files) and pass --lm-eval-include DIR")
    unknown = sorted(set(spec.options) - set(OPTIONS))
    if unknown:
        raise UserError(f"task {spec.name} has no option {', '.join(unknown)} (it takes: {', '.join(OPTIONS)})")
    include = spec.options.get("lm_eval_include")
    manager, loaded = load_tasks(name, include)
    leaves = sorted(loaded["tasks"])
    config = _config(spec, cfg, name, loaded, include)
    from bolt_eval.store import config_hash

    chash = config_hash(config)
    store = Store(cfg.out)
    run_id = store.run_id(cfg.label or cfg.backend.model, spec.name, chash)
    manifest = _manifest(run_id, chash, config, cfg, leaves)
    store.check(run_id, manifest)
    finished = _finished(store, run_id, chash)
    if finished is not None:
        print(f"bolt-eval: {spec.name}: finished run {run_id} reused", file=sys.stderr)
        return RunResult(run_id, store.folder(run_id), spec.name, finished[1], finished[0])
    with store.open(run_id, manifest) as run:
        results = _simple_evaluate(name, spec, cfg, manager, run.dir)
        return _write(run, spec, name, leaves, results)


def load_tasks(name: str, include: str | None) -> tuple[Any, dict[str, Any]]:
    """lm-eval's TaskManager (with a custom task folder) and the loaded task, or a UserError
    naming the task, the dataset that could not be loaded and the fixes."""
    from pathlib import Path

    from lm_eval.tasks import TaskManager

    if include and not Path(include).is_dir():
        raise UserError(f"--lm-eval-include {include}: no such folder (a folder of lm-eval task YAMLs)")
    manager = None
    if include:  # a custom task: found without indexing lm-eval's thousands of built-in tasks
        manager = TaskManager(include_path=include, include_defaults=False)
        if name not in manager.all_tasks:
            manager = None
    manager = manager or TaskManager(include_path=include)
    try:
        return manager, manager.load([name])
    except KeyError as err:
        raise UserError(f"lm-eval has no task, group or tag {name!r}"
                        f"{' (also searched ' + include + ')' if include else ''}; list them with `lm-eval ls tasks`, "
                        "or add a custom task folder with --lm-eval-include DIR") from err
    except Exception as err:  # datasets raises ConnectionError, FileNotFoundError, DatasetNotFoundError...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"lm-eval task {name}: its dataset could not be loaded ({type(err).__name__}: {first}). Fixes: "
            "allow network access to the Hugging Face hub (unset HF_HUB_OFFLINE / HF_DATASETS_OFFLINE); or point "
            "HF_DATASETS_CACHE at a cache that holds it; or write a custom lm-eval task on local files "
            "(dataset_path: json, dataset_kwargs.data_files) and pass its folder with --lm-eval-include DIR "
            "(in a suite: options: {lm_eval_include: DIR}). Nothing was written") from err


def _config(spec: Any, cfg: Any, name: str, loaded: dict[str, Any], include: str | None) -> dict[str, Any]:
    """What makes the run what it is (hashed into its id): lm-eval's version, each leaf task's
    version and config and data hashes, the model's identity and the settings."""
    from importlib.metadata import version

    from bolt_eval.registry import backends

    tasks = {leaf: _task_identity(t) for leaf, t in sorted(loaded["tasks"].items())}
    return {
        "task": spec.name, "task_version": {leaf: t["version"] for leaf, t in tasks.items()},
        "data": {"source": f"lm-eval:{name}", "sha256": _sha(json.dumps([t["data_sha256"] for t in tasks.values()]))},
        "prompt_template_sha256": _sha(json.dumps([t["config_sha256"] for t in tasks.values()])),
        "backend": backends.get(cfg.backend.backend).identity(cfg.backend),
        "sampling": {"num_fewshot": 0, "apply_chat_template": True, "gen_kwargs": spec.options.get("gen_kwargs"),
                     "limit": spec.limit, "seed": cfg.sampling.seed},
        "thoughts": cfg.thoughts,
        "lm_eval": {"version": version("lm_eval"), "metric": metric_key(name, spec.options.get("metric")),
                    "include": _folder_sha(include) if include else None, "tasks": tasks},
    }


def _task_identity(task: Any) -> dict[str, Any]:
    docs = list(task.eval_docs)
    return {"version": getattr(task, "VERSION", None), "n_docs": len(docs),
            "config_sha256": _sha(json.dumps(task.dump_config(), sort_keys=True, default=str)),
            "data_sha256": _sha("\n".join(json.dumps(d, sort_keys=True, default=str) for d in docs))}


def _folder_sha(folder: str) -> str:
    """The custom task folder by content (YAML and Python files), not by path."""
    from pathlib import Path

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".py"))
    return _sha("".join(f"{p.relative_to(folder)}:{_sha(p.read_text(encoding='utf-8'))}\n" for p in files))


def _manifest(run_id: str, chash: str, config: dict[str, Any], cfg: Any, leaves: list[str]) -> dict[str, Any]:
    from bolt_eval.runner import _manifest as runner_manifest

    manifest = runner_manifest(run_id, chash, config, cfg, sum(t["n_docs"] for t in config["lm_eval"]["tasks"].values()))
    if config["sampling"]["limit"]:
        manifest["n_samples"] = sum(min(t["n_docs"], config["sampling"]["limit"])
                                    for t in config["lm_eval"]["tasks"].values())
    return manifest


def _finished(store: Any, run_id: str, chash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    folder = store.folder(run_id)
    if not (folder / "summary.json").is_file():
        return None
    manifest, summary = store.load(folder)
    return (manifest, summary) if manifest.get("status") == "complete" and manifest.get("config_hash") == chash else None


def _simple_evaluate(name: str, spec: Any, cfg: Any, manager: Any, folder: Any) -> dict[str, Any]:
    import lm_eval

    from bolt_eval.lmeval.models import api_key, lm_eval_model

    model, model_args = lm_eval_model(cfg.backend, cfg.thoughts)
    batch = model_args.pop("batch_size", None)
    device = model_args.pop("device", None)
    with api_key(cfg.backend):
        results = lm_eval.simple_evaluate(
            model=model, model_args=model_args, tasks=[name], num_fewshot=0, batch_size=batch, device=device,
            limit=spec.limit, log_samples=True, apply_chat_template=True, fewshot_as_multiturn=True,
            gen_kwargs=spec.options.get("gen_kwargs"), task_manager=manager, random_seed=cfg.sampling.seed,
            use_cache=str(folder / "lm_eval_cache"), verbosity="WARNING")
    if results is None:
        raise UserError(f"lm-eval task {name}: lm_eval.simple_evaluate returned nothing")
    results["config"]["model_args"] = {**model_args, "batch_size": batch, "device": device}
    return results


def _write(run: Any, spec: Any, name: str, leaves: list[str], results: dict[str, Any]) -> Any:
    from bolt_eval.runner import RunResult, _now
    from bolt_eval.store import write_atomic

    samples = results.pop("samples")
    results = json.loads(json.dumps(results, default=str))  # lm-eval leaves dtypes and the like in it
    write_atomic(run.dir / "lm_eval_results.json", json.dumps(results, indent=2, sort_keys=True) + "\n")
    write_atomic(run.dir / "lm_eval_samples.jsonl",
                 "".join(json.dumps({"task": leaf, **s}, default=str, ensure_ascii=False) + "\n"
                         for leaf in sorted(samples) for s in samples[leaf]))
    metric = run.manifest["config"]["lm_eval"]["metric"] or first_metric(results, name, leaves)
    records = item_records(samples, metric)
    head = headline(results, name, metric, records)
    unpaired = paired_items(records, head["mean"])
    for r in records:
        if unpaired:
            r.pop("value", None)
        if r["id"] not in run.records:
            run.append(r)
    blocks = {k: v for k, v in results["results"].items() if k == name or k in leaves}
    summary = {"task": spec.name, "task_version": run.manifest["config"]["task_version"], "n_samples": len(records),
               "headline": head, "metrics": blocks, "items": unpaired or "paired: one value per document"}
    run.write_summary(summary)
    run.manifest.update(status="complete", finished=_now(), n_samples=len(records), lm_eval={
        "version": results.get("lm_eval_version"), "model": results["config"].get("model"),
        "model_args": results["config"].get("model_args"), "versions": results.get("versions"),
        "n-samples": results.get("n-samples"), "n-shot": results.get("n-shot"),
        "config_sha256": {k: _sha(json.dumps(v, sort_keys=True, default=str)) for k, v in results["configs"].items()},
        "transformers_version": results.get("transformers_version"), "git_hash": results.get("git_hash")})
    run.write_manifest()
    return RunResult(run.dir.name, run.dir, spec.name, summary, run.manifest)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
