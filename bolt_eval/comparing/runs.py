"""Finished runs as `compare` and `gate` see them: manifest, summary and per-item values.

A run folder is read through `bolt_eval.store` (the only code that touches results/); the
per-item values of the headline come from the task's own `item_values` / `item_weights`,
so a paired statistic uses exactly what the task's `aggregate` averaged. Judged tasks
get their verdicts from `judgments.jsonl`, merged into the records as `aggregate` saw them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bolt_eval.comparing.best_of_mix import picked_records
from bolt_eval.jsonl import read_jsonl
from bolt_eval.store import Store
from bolt_eval.types import Sample, UserError

# The paper's order of benchmarks (BOLT, Figure 5 and Table 1), then anything else by name.
PAPER_ORDER = ("mt_bench", "arena_hard", "wildbench", "zebralogic", "math500")
DISPLAY = {"mt_bench": "MT-Bench", "arena_hard": "Arena-Hard-SC", "wildbench": "WildBench",
           "zebralogic": "ZebraLogic", "math500": "MATH500"}


def display_name(task: str) -> str:
    return DISPLAY.get(task, task)


def task_order(tasks: set[str] | list[str]) -> list[str]:
    return sorted(set(tasks), key=lambda t: (PAPER_ORDER.index(t) if t in PAPER_ORDER else len(PAPER_ORDER), t))


@dataclass
class RunData:
    """One finished run: what produced it, its summary, and its headline per item."""

    dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    values: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    no_items: str | None = None  # why there are no per-item values (no paired delta then)
    paired_metric: str | None = None  # the summary metric the items rebuild, when not the headline
    variants: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # judge repeats (noise_bootstrap)

    @property
    def label(self) -> str:
        return str(self.manifest.get("label") or self.dir.name)

    @property
    def task(self) -> str:
        return str(self.summary["task"])

    @property
    def headline(self) -> dict[str, Any]:
        return self.summary["headline"]

    @property
    def unit(self) -> str:
        return str(self.headline.get("unit", "%"))

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def started(self) -> str:
        return str(self.manifest.get("started", ""))


def load_run(folder: str | Path, with_items: bool = True) -> RunData:
    """A finished run folder; with its per-item headline values when `with_items`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such run folder; pass a folder holding manifest.json and summary.json")
    manifest, summary = Store(folder.parent).load(folder)
    for key in ("task", "headline"):
        if key not in summary:
            raise UserError(f"{folder / 'summary.json'}: field {key!r} missing; re-run the evaluation to rewrite it")
    run = RunData(folder, manifest, summary)
    return attach_items(run) if with_items else run


def attach_items(run: RunData) -> RunData:
    """Fill in the run's per-item values (or why it has none)."""
    try:
        run.values, run.weights = item_values(run)
    except NotImplementedError as err:
        run.no_items = str(err)
    return run


def item_values(run: RunData) -> tuple[dict[str, float], dict[str, float]]:
    """(values, weights) per item from the run's records, checked against its summary."""
    from bolt_eval.registry import benchmarks

    config = run.manifest.get("config", {})
    if run.task.startswith("lm-eval:"):  # an lm-eval run: its stored item values (bolt_eval/lmeval/items.py)
        from bolt_eval.lmeval.items import LmEvalItems
        task: Any = LmEvalItems()
    else:
        task = benchmarks.get(run.task)(**config.get("task_options", {}))
    records = list(Store(run.dir.parent).peek(run.dir.name).values())
    judgments = None
    if run.summary.get("coverage") is not None:
        judgments = {row["id"]: row["judgments"] for _, row in read_jsonl(run.dir / "judgments.jsonl")}
    records = picked_records(run.dir, run.manifest, _summarised(run, records, judgments))  # Best-of-N: the answer kept
    if judgments is not None:
        for r in records:
            if r["id"] not in judgments:
                raise UserError(f"{run.dir / 'judgments.jsonl'}: no judgments for sample {r['id']!r}; "
                                "re-run the same command to judge it")
            for output, judged in zip(r["outputs"], judgments[r["id"]], strict=True):
                output["judgments"] = judged
    try:  # most tasks read only the ids of the samples
        samples = [Sample(r["id"], ()) for r in records]
        values, weights = task.item_values(samples, records), task.item_weights(samples, records)
    except (KeyError, AttributeError, TypeError):  # others need them whole: the run's own data
        by_id = {s.id: s for s in _data_samples(run, task)}
        samples = [by_id[r["id"]] for r in records]
        values, weights = task.item_values(samples, records), task.item_weights(samples, records)
    run.paired_metric = _check_headline(run, values, weights)
    if judgments is not None:  # the judge's repeats: a paired delta whose CI includes its noise
        from bolt_eval.noise_bootstrap import item_variants

        run.variants = item_variants(task, samples, records)
    return values, weights


def _summarised(run: RunData, records: list[dict[str, Any]],
                judgments: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The records the summary covers. A folder can hold more (a later run with a smaller
    --limit, answers reused from another run): then the judged ids, or the first
    n_samples ids of the run's data file, say which."""
    n = int(run.summary.get("n_samples", len(records)))
    if len(records) == n:
        return records
    if judgments is not None:
        keep = set(judgments)
    else:
        keep = set(_data_ids(run)[:n])
    chosen = [r for r in records if r["id"] in keep]
    if len(chosen) != n:
        raise UserError(f"{run.dir / 'samples.jsonl'}: holds {len(records)} samples but the summary covers {n}, "
                        "and the run's data cannot say which; re-run the same command to finish it")
    return chosen


def _data_ids(run: RunData) -> list[str]:
    """Sample ids of the run's local data file, in order, when it is still the same file."""
    from bolt_eval.registry import benchmarks

    config = run.manifest.get("config", {})
    return [s.id for s in _data_samples(run, benchmarks.get(run.task)(**config.get("task_options", {})))]


def _data_samples(run: RunData, task: Any) -> list[Sample]:
    """The samples of the run's local data file, when it still loads to the recorded hash."""
    data = run.manifest.get("config", {}).get("data", {})
    source = str(data.get("source", ""))
    path = Path(source[len("file:"):]) if source.startswith("file:") else None
    dataset = None
    if path is not None and path.is_file():
        task.data = str(path)
        dataset = task.load()
    if dataset is None or dataset.sha256 != data.get("sha256"):
        raise UserError(f"{run.dir}: pairing its items needs the run's data ({source or 'unknown source'}), "
                        "which is not a local file with the recorded hash here; compare on the machine that "
                        "holds it, or evaluate into a fresh --out folder")
    return list(dataset.samples)


def _check_headline(run: RunData, values: dict[str, float], weights: dict[str, float]) -> str | None:
    """The items must rebuild the summary's headline (then None), or, for a headline that is
    not an item mean (Arena-Hard's style-controlled fit), another metric of the summary,
    whose path is returned so tables can say what the paired delta is on. Else the summary
    is stale."""
    from bolt_eval.stats import weighted_ratio

    ids = list(values)
    rebuilt = weighted_ratio([values[i] for i in ids], [weights.get(i, 0.0) for i in ids])
    stored = run.headline["mean"]
    if _same(rebuilt, stored):
        return None
    for path, est in _estimates(run.summary.get("metrics", {}), "metrics"):
        other = path.rsplit(".", 1)[-1] != run.headline["metric"]  # a stale copy of the headline is no way out
        if other and _same(rebuilt, est.get("mean")) and not math.isnan(rebuilt):
            return path
    raise UserError(f"{run.dir}: summary.json says {run.headline['metric']} = {stored} but samples.jsonl gives "
                    f"{rebuilt:.6f}; the summary is stale: re-run the same command to re-aggregate it")


def _same(a: float, b: Any) -> bool:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return math.isnan(a)
    return abs(a - float(b)) <= 1e-5


def _estimates(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every {mean, lo, hi} in a summary's metrics, with its dotted path."""
    if not isinstance(node, dict):
        return []
    if "mean" in node and "lo" in node:
        return [(path, node)]
    return [x for k, v in node.items() for x in _estimates(v, f"{path}.{k}")]


@dataclass(frozen=True)
class Filters:
    """Which runs of a results root to take: glob on the model label, task names, a suite."""

    model: str | None = None
    tasks: tuple[str, ...] = ()
    suite: str | None = None


def discover(root: str | Path, filters: Filters = Filters()) -> tuple[list[Path], list[str]]:
    """Run folders directly under `root` that match; and notes on the ones left out
    (unfinished runs are named, never dropped silently)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results root {root}: no such folder; pass run folders or --root DIR")
    suite = _suite_filter(filters.suite) if filters.suite else None
    found, notes = [], []
    for manifest_path in sorted(root.glob("*/manifest.json")):
        folder = manifest_path.parent
        try:
            manifest, summary = Store(root).load(folder)
        except UserError as err:
            notes.append(f"skipped {folder.name}: {err}")
            continue
        task, label = summary.get("task"), str(manifest.get("label", ""))
        if filters.model and not fnmatch.fnmatchcase(label, filters.model):
            continue
        if filters.tasks and task not in filters.tasks:
            continue
        if suite is not None and not _in_suite(manifest, suite):
            continue
        found.append(folder)
    if not found:
        raise UserError(f"no finished runs under {root} match the filters "
                        f"(model={filters.model}, tasks={','.join(filters.tasks) or 'any'}, suite={filters.suite})")
    return found, notes


def _suite_filter(name: str) -> dict[str, str | None]:
    """task -> sha256 of the suite's data file (None: the official data)."""
    from bolt_eval.suites import load_suite

    suite = load_suite(name)
    return {t.name: (hashlib.sha256(Path(t.data).read_bytes()).hexdigest() if t.data else None) for t in suite.tasks}


def _in_suite(manifest: dict[str, Any], suite: dict[str, str | None]) -> bool:
    config = manifest.get("config", {})
    task = config.get("task")
    if task not in suite:
        return False
    want = suite[task]
    return want is None or config.get("data", {}).get("sha256") == want
