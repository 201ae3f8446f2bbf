"""Results as pandas DataFrames, one row per model x benchmark x metric, as analysts get
them from inspect_ai's `evals_df` and lm-eval's results tables.

    runs_df(paths)            finished run folders (or folders of runs): the headline and
                              every other estimate in each summary, plus format adoption;
                              values as summary.json stores them (rates as fractions)
    compare_df(comparison)    a `bolt-eval compare` result: headline and breakdown rows in
                              display units (percent for rates) with the paired delta
    trajectory_df(output_dir) a training run's trajectory: compare_df of its checkpoints in
                              training order (deltas to init) with stage, iteration, step,
                              checkpoint and format adoption

Columns shared by all three: model, task, metric, value, ci_low, ci_high, n, unit, judge,
status, run_id. pandas is imported inside the functions (`bolt-eval --help` stays light).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

COLUMNS = ["model", "task", "metric", "value", "ci_low", "ci_high", "n", "unit", "judge", "status", "run_id"]


def _estimates(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return []
    if "mean" in node and "lo" in node:
        return [(path, node)]
    return [x for k, v in node.items() for x in _estimates(v, f"{path}.{k}" if path else k)]


def runs_df(paths: Sequence[str | Path] = (), root: str | Path = "results") -> Any:
    """Every finished run in `paths` (default: all under `root`)."""
    import pandas as pd

    from bolt_eval.comparing import collect_runs

    runs, _ = collect_runs([str(p) for p in paths], root, with_items=False)
    rows = []
    for r in runs:
        judge = r.summary.get("judge")
        base = {"model": r.label, "task": r.task, "unit": r.unit, "status": r.status, "run_id": r.dir.name,
                "judge": (judge["model"] + (" (substitute)" if judge["substitute"] else "")) if judge else None}
        headline = r.headline["metric"]
        rows.append({**base, "metric": headline, "headline": True, "value": r.headline["mean"],
                     "ci_low": r.headline["lo"], "ci_high": r.headline["hi"], "n": r.headline.get("n")})
        for path, est in _estimates(r.summary.get("metrics", {}), ""):
            if path != headline:
                rows.append({**base, "metric": path, "headline": False, "value": est["mean"], "ci_low": est.get("lo"),
                             "ci_high": est.get("hi"), "n": est.get("n")})
        if a := r.summary.get("adoption"):
            rows.append({**base, "metric": "format_adoption", "headline": False, "unit": "share", "value": a["rate"],
                         "ci_low": None, "ci_high": None, "n": a["n"]})
    return pd.DataFrame(rows, columns=COLUMNS + ["headline"])


def compare_df(result: Any) -> Any:
    """A Comparison (`comparing.table.compare`) as rows, in display units."""
    from bolt_eval.comparing.render import frame

    df = frame(result).rename(columns={"mean": "value", "lo": "ci_low", "hi": "ci_high"})
    df["run_id"] = [Path(p).name if isinstance(p, str) else None for p in df.pop("run")]
    return df[COLUMNS + [c for c in df.columns if c not in COLUMNS]]


def trajectory_df(output_dir: str | Path, rounds: int = 1000) -> Any:
    """The trajectory's headline rows, in training order, with deltas to init."""
    from bolt_eval.comparing.trajectory import trajectory_comparison, trajectory_entries

    entries = trajectory_entries(output_dir)
    cmp, runs = trajectory_comparison(output_dir, rounds=rounds)
    df = compare_df(cmp)
    df = df[df["kind"] == "headline"].drop(columns=["kind"]).reset_index(drop=True)
    by_label = {e["label"]: (i, e) for i, e in enumerate(entries)}
    adoption = {(r.label, r.task): (r.summary.get("adoption") or {}).get("rate") for r in runs}
    for key in ("stage", "iteration", "step", "checkpoint", "fingerprint"):
        df[key] = [by_label[m][1].get(key) for m in df["model"]]
    df["order"] = [by_label[m][0] for m in df["model"]]
    df["format_adoption"] = [adoption.get((m, t)) for m, t in zip(df["model"], df["task"])]
    return df.sort_values(["order", "task"], kind="stable").reset_index(drop=True)
