"""lm-eval results read as bolt-eval reads its own: a headline with a CI, and per-item values.

The headline is the metric "Structure, not content" (Li et al., arXiv 2502.07374, Table 3,
as copied into shared/references/structure-not-content.yaml) names for each retention task:
MMLU acc, IFEval (leaderboard_ifeval) prompt_level_strict_acc, MGSM (mgsm_direct)
exact_match after the flexible-extract filter. The reference names no ARC-Challenge metric:
acc_norm is taken, as the Open LLM Leaderboard (v1) reported it; a suite or the Python API
can choose another with the task option `metric`. Any other lm-eval task: its first metric.

The CI is lm-eval's own standard error x 1.96 (a normal interval), not a bootstrap. Per-item
values (`<leaf task>/<doc_id>` -> the sample's metric) let `compare` pair two runs item by
item; they are kept only when their mean reproduces the headline, which holds for metrics
lm-eval averages over items (and for groups it weights by size, e.g. MMLU), not for corpus
metrics (BLEU, F1 over a corpus) or macro averages: such runs compare without a paired delta.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from bolt_eval.types import UserError

DEFAULT_METRICS = {
    "mmlu": "acc,none",
    "arc_challenge": "acc_norm,none",
    "leaderboard_ifeval": "prompt_level_strict_acc,none",
    "mgsm_direct": "exact_match,flexible-extract",
}
Z95 = 1.96  # normal interval from lm-eval's standard error
_NOT_METRICS = {"alias", "name", "sample_len", "sample_count", " "}


def metric_key(task: str, option: str | None) -> str | None:
    """lm-eval's result key ("acc,none") for a task option ("acc" or "acc,flexible-extract");
    None: the task's first metric, known once lm-eval has run."""
    chosen = option or DEFAULT_METRICS.get(task)
    if chosen is None:
        return None
    return chosen if "," in chosen else f"{chosen},none"


def first_metric(results: dict[str, Any], task: str, leaves: list[str]) -> str:
    block = results["results"].get(task) or results["results"][leaves[0]]
    keys = [k for k in block if k not in _NOT_METRICS and "_stderr," not in k and "," in k]
    if not keys:
        raise UserError(f"lm-eval task {task}: its results hold no metric ({', '.join(block)})")
    return keys[0]


def item_records(samples: dict[str, list[dict[str, Any]]], metric: str) -> list[dict[str, Any]]:
    """One record per document of every leaf task: id, the headline metric's value (when a
    number), the target and the filtered response lm-eval scored."""
    name, _, filt = metric.partition(",")
    out = []
    for leaf in sorted(samples):
        for s in samples[leaf]:
            if s.get("filter") != filt or name not in s:
                continue
            value = s[name]
            record: dict[str, Any] = {"id": f"{leaf}/{s['doc_id']}", "task": leaf, "doc_id": s["doc_id"],
                                      "target": _short(s.get("target")), "response": _short(s.get("filtered_resps")),
                                      "metrics": {k: s[k] for k in s.get("metrics", []) if k in s}}
            if isinstance(value, (bool, int, float)):
                record["value"] = float(value)
            out.append(record)
    return out


def headline(results: dict[str, Any], task: str, metric: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """{metric, unit, mean, lo, hi, n, stderr, source}: lm-eval's aggregate of `task` (a task
    or a group), or, for a tag (which lm-eval does not aggregate), the mean over its items
    with the standard error of that mean."""
    block = results["results"].get(task, {})
    values = [r["value"] for r in records if "value" in r]
    if metric in block:
        mean, stderr, source = float(block[metric]), _float(block.get(metric.replace(",", "_stderr,", 1))), "lm-eval"
    elif values and len(values) == len(records):
        mean = sum(values) / len(values)
        stderr = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
        source = "items (a tag: lm-eval reports its tasks one by one)"
    else:
        known = sorted({k for b in results["results"].values() for k in b if "," in k and "_stderr," not in k})
        raise UserError(f"lm-eval task {task}: no metric {metric!r} in its results; it reports: {', '.join(known)}. "
                        "Set the task option `metric` (in the suite: options: {metric: NAME,FILTER})")
    lo, hi = (mean - Z95 * stderr, mean + Z95 * stderr) if not math.isnan(stderr) else (math.nan, math.nan)
    ci = "lm-eval stderr x 1.96 (normal)"
    if values and all(0.0 <= v <= 1.0 for v in values):  # a rate: the interval stays in [0, 1]
        lo, hi, ci = max(lo, 0.0), min(hi, 1.0), "lm-eval stderr x 1.96 (normal), clipped to [0, 1]"
    return {"metric": metric, "unit": "%", "mean": mean, "lo": lo, "hi": hi, "n": len(records),
            "stderr": stderr, "ci": ci, "source": source}


def paired_items(records: list[dict[str, Any]], mean: float) -> str | None:
    """None when the records' values rebuild the headline (then compare pairs them), else why not."""
    values = [r["value"] for r in records if "value" in r]
    if not records or len(values) != len(records):
        return "the metric has no number per item"
    if abs(sum(values) / len(values) - mean) > 1e-9:
        return "the headline is not the mean of its items (a corpus metric or a macro average)"
    return None


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):  # lm-eval writes "N/A" where it has no stderr
        return math.nan


def _short(x: Any, limit: int = 2000) -> Any:
    """Targets and responses as lm-eval logged them, long strings cut (the full log is beside)."""
    if isinstance(x, str) and len(x) > limit:
        return x[:limit] + "..."
    if isinstance(x, list):
        return [_short(v, limit) for v in x]
    return x


class LmEvalItems:
    """What `compare` and `gate` need of an lm-eval run (bolt_eval/comparing/runs.py): the
    per-item values stored in its samples.jsonl, each item of weight 1."""

    def item_values(self, samples: Any, records: list[dict[str, Any]]) -> dict[str, float]:
        if any("value" not in r for r in records):
            raise NotImplementedError("this lm-eval run has no per-item values that rebuild its headline "
                                      "(summary.json: items), so it has no paired delta")
        return {r["id"]: r["value"] for r in records}

    def item_weights(self, samples: Any, records: list[dict[str, Any]]) -> dict[str, float]:
        return {r["id"]: 1.0 for r in records}
