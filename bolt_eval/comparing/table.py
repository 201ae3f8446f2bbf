"""The comparison itself: checkpoints x benchmarks, each cell a headline with its CI and
its paired delta to a baseline checkpoint; per-benchmark breakdowns; reference rows.

Numbers are kept in display units (percent for rates, raw for scores) from here on, so
every renderer and plot shows what the tables show.

Refusal: runs of one task that differ in anything but the model (`comparable.FIELDS`)
are not put in one column unless `allow_mixed`; then the cells that differ from the
baseline's run are marked and a note says how.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from bolt_eval import stats
from bolt_eval.comparing.best_of_mix import refuse_mix
from bolt_eval.comparing.comparable import differences, substitute_judge
from bolt_eval.comparing.reference import Reference
from bolt_eval.comparing.runs import RunData, display_name, task_order
from bolt_eval.types import UserError

MIXED_MARK = "†"
NOISE_MARK = "‡"  # the interval includes the judge's own noise (judging/noise.py)


def scale(unit: str) -> float:
    return 100.0 if unit == "%" else 1.0


@dataclass
class Cell:
    """One checkpoint on one benchmark, in display units."""

    label: str
    task: str
    metric: str
    unit: str
    mean: float
    lo: float | None = None
    hi: float | None = None
    n: int | None = None
    delta: stats.Estimate | None = None  # paired, to the baseline checkpoint
    judged: tuple[int, int] | None = None  # (judged, total) for judged tasks
    status: str = "complete"
    mixed: bool = False
    judge_noise: bool = False  # lo, hi: the two-level interval, CI incl. judge noise
    reference: bool = False
    run_dir: str | None = None


@dataclass
class Breakdown:
    """One `by_*` table of a task: group -> label -> (mean, lo, hi) in display units."""

    task: str
    key: str
    metric: str
    unit: str
    groups: list[str]
    values: dict[str, dict[str, tuple[float, float, float]]]


@dataclass
class Comparison:
    labels: list[str]  # the user's checkpoints, in row order
    tasks: list[str]  # benchmark columns, paper order
    baseline: str
    cells: dict[tuple[str, str], Cell]
    breakdowns: list[Breakdown] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # reference row labels, after the user's
    notes: list[str] = field(default_factory=list)
    judges: dict[str, str] = field(default_factory=dict)  # task -> judge (marked substitute)
    rounds: int = 1000

    def row_labels(self) -> list[str]:
        return self.labels + self.references

    def column_title(self, task: str) -> str:
        unit = next((c.unit for (_, t), c in self.cells.items() if t == task), "%")
        metric = next((c.metric for (_, t), c in self.cells.items() if t == task and not c.reference), None)
        return f"{display_name(task)}" + (f" {metric.replace('_', ' ')}" if metric else "") + \
            (" (%)" if unit == "%" else "")


def compare(runs: list[RunData], baseline: str | None = None, allow_mixed: bool = False,
            reference: Reference | None = None, rounds: int = 1000, seed: int = 0,
            allow_best_of_mix: bool = False) -> Comparison:
    """Build the comparison of `runs` (row order = first appearance of each label)."""
    by_key: dict[tuple[str, str], RunData] = {}
    for run in runs:
        key = (run.label, run.task)
        if key in by_key:
            raise UserError(f"two runs of model {run.label!r} on {run.task}: {by_key[key].dir} and {run.dir}; "
                            "pass one of them (or filter with --model / --task)")
        by_key[key] = run
    labels = list(dict.fromkeys(r.label for r in runs))
    base = baseline or labels[0]
    if base not in labels:
        raise UserError(f"--baseline {base!r} is not among the compared models: {', '.join(labels)}")
    tasks = task_order({r.task for r in runs})
    cmp = Comparison(labels, tasks, base, {}, rounds=rounds)
    for task in tasks:  # a Best-of-N run beside a plain run of its model only when asked (best_of.py)
        cmp.notes += refuse_mix([r for (_, t), r in by_key.items() if t == task], allow_best_of_mix)
    _check_mixed(cmp, by_key, allow_mixed)
    for (label, task), run in by_key.items():
        cmp.cells[(label, task)] = _cell(run, by_key.get((base, task)), allow_mixed, rounds, seed)
    cmp.notes += _pairing_notes(list(by_key.values()))
    for task in tasks:
        judge = substitute_judge([r for (_, t), r in by_key.items() if t == task])
        if judge:
            cmp.judges[task] = judge
        cmp.breakdowns += _breakdowns(task, [by_key[(lb, task)] for lb in labels if (lb, task) in by_key])
    if reference is not None:
        _add_reference(cmp, reference)
    return cmp


def _check_mixed(cmp: Comparison, by_key: dict[tuple[str, str], RunData], allow_mixed: bool) -> None:
    problems = []
    for task in cmp.tasks:
        diffs = differences([r for (_, t), r in by_key.items() if t == task])
        problems += [f"{task}: {d}" for d in diffs]
    if problems and not allow_mixed:
        raise UserError("refusing to compare runs that differ in more than the model:\n  " + "\n  ".join(problems)
                        + "\nre-run them alike, filter them apart, or pass --allow-mixed (the table then marks them "
                          f"with {MIXED_MARK})")
    if problems:
        cmp.notes += [f"{MIXED_MARK} mixed: {p}" for p in problems]


def _cell(run: RunData, base: RunData | None, allow_mixed: bool, rounds: int, seed: int) -> Cell:
    h, k = run.headline, scale(run.unit)
    cov = run.summary.get("coverage")
    cell = Cell(run.label, run.task, h["metric"], run.unit, _num(h["mean"]) * k, _num(h["lo"]) * k,
                _num(h["hi"]) * k, h.get("n"), judged=(cov["judged"], cov["total"]) if cov else None,
                status=run.status, run_dir=str(run.dir))
    if (noisy := (run.summary.get("judge_noise") or {}).get("headline")) is not None:
        cell.lo, cell.hi, cell.judge_noise = _num(noisy["lo"]) * k, _num(noisy["hi"]) * k, True
    if base is not None and base is not run:
        cell.mixed = allow_mixed and bool(differences([base, run]))
        if not (base.no_items or run.no_items):
            cell.delta = paired(base, run, rounds, seed)
    return cell


def _pairing_notes(runs: list[RunData]) -> list[str]:
    """Say where a delta is missing or is not on the headline itself."""
    notes = {f"{r.task}: no paired deltas ({r.no_items})" for r in runs if r.no_items}
    notes |= {f"{r.task}: {NOISE_MARK} CI incl. judge noise: items resampled, then the judge's repeats of an item "
              "(two-level bootstrap, judging/noise.py); Δ too where a run has repeats" for r in runs if r.variants
              or (r.summary.get("judge_noise") or {}).get("headline")}
    notes |= {f"{r.task}: Δ is on {r.paired_metric}, the item mean behind the headline "
              f"{r.headline['metric']} (which is not an item mean)" for r in runs if r.paired_metric}
    return sorted(notes)


def paired(base: RunData, cand: RunData, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> stats.Estimate:
    """Candidate minus baseline in display units, paired over the items both answered."""
    ids = [i for i in base.values if i in cand.values]
    if not ids:
        raise UserError(f"{cand.dir} and {base.dir} share no samples: nothing to pair")
    if base.variants or cand.variants:  # the judge asked again: its noise in the delta's CI too
        from bolt_eval.noise_bootstrap import arrays_of, two_level_paired

        est = two_level_paired(arrays_of(base.variants, base.values, base.weights, ids),
                               arrays_of(cand.variants, cand.values, cand.weights, ids), rounds, seed, alpha)
    else:
        est = stats.paired_delta(([base.values[i] for i in ids], [base.weights.get(i, 0.0) for i in ids]),
                                 ([cand.values[i] for i in ids], [cand.weights.get(i, 0.0) for i in ids]),
                                 rounds=rounds, seed=seed, alpha=alpha)
    k = scale(cand.unit)
    return stats.Estimate(est.mean * k, est.lo * k, est.hi * k, est.n)


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _breakdowns(task: str, runs: list[RunData]) -> list[Breakdown]:
    """Every `by_*` metric of the task's summaries (MT-Bench turns and categories,
    ZebraLogic buckets and sizes, MATH500 subjects and levels, WildBench task groups)."""
    if not runs:
        return []
    metric, unit = runs[0].headline["metric"], runs[0].unit
    out = []
    keys = list(dict.fromkeys(k for r in runs for k in r.summary.get("metrics", {}) if k.startswith("by_")))
    for key in keys:
        values: dict[str, dict[str, tuple[float, float, float]]] = {}
        for run in runs:
            for group, entry in (run.summary["metrics"].get(key) or {}).items():
                est = entry if isinstance(entry, dict) and "mean" in entry else (entry or {}).get(metric)
                if isinstance(est, dict) and "mean" in est:
                    k = scale(unit)
                    values.setdefault(group, {})[run.label] = (_num(est["mean"]) * k, _num(est["lo"]) * k,
                                                               _num(est["hi"]) * k)
        if values:
            out.append(Breakdown(task, key, metric, unit, _group_order(list(values)), values))
    return out


def _group_order(groups: list[str]) -> list[str]:
    """Sizes NxM by cell count, groups with a number ('turn2', 'Level 3', '4') by it,
    names (subjects, categories, buckets) as the summary lists them."""
    def key(g: str) -> tuple[float, float]:
        size = re.fullmatch(r"(\d+)\s*[x*]\s*(\d+)", g)
        if size:
            return (int(size[1]) * int(size[2]), int(size[1]))
        digits = re.sub(r"\D", "", g)
        return (int(digits), 0) if digits else (math.inf, 0)
    return sorted(groups, key=key)


def _add_reference(cmp: Comparison, ref: Reference) -> None:
    if not ref.rows:
        cmp.notes.append(f"reference {ref.name!r} holds no rows yet: {ref.note.strip()} (source: {ref.cite()})")
        return
    for row in ref.rows:
        label = f"{row.label} [reference: {ref.name}, {row.table}]"
        cmp.references.append(label)
        for task, value in row.values.items():
            unit = "score" if task == "mt_bench" else "%"
            cmp.cells[(label, task)] = Cell(label, task, "", unit, value, reference=True)
            if task not in cmp.tasks:
                cmp.tasks = task_order(set(cmp.tasks) | {task})
    cmp.notes.append(f"reference rows: {ref.cite()}; published numbers, not produced by this harness")
