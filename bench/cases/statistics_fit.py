"""Statistics: the Arena-Hard-SC fit with bootstrap, and compare's paired bootstrap.

Arena-Hard-SC: N checkpoints x 750 prompts x 2 games against one baseline, verdicts and
style features drawn at random (seeded), fitted together (`style_control.fit`, style
"both") and bootstrapped 100 rounds, as `bolt-eval arena-fit` does for a training run.
The ratio is the cost per checkpoint relative to one checkpoint alone: above 1, fitting
checkpoints together costs more per checkpoint than fitting one (the fit has a parameter
per checkpoint, so each iteration grows with both battles and parameters).

compare: `comparing.table.compare` over 50 runs of 500 items (a MATH500 run each) against
the first, every delta a 1000-round paired bootstrap, relative to a 2-run comparison.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

TITLE = "5. Statistics: Arena-Hard-SC fit + 100-round bootstrap; compare's paired bootstrap over 50 runs"
ORDER = 5
LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def synthetic_battles(checkpoints: int, prompts: int, seed: int = 0) -> list[Any]:
    from bolt_eval.arena.style_control import battles_from_games

    rng = random.Random(seed)

    def style() -> dict[str, int]:
        return {"tokens": rng.randint(50, 1500), "headers": rng.randint(0, 6),
                "lists": rng.randint(0, 20), "bold": rng.randint(0, 10)}

    out = []
    for c in range(checkpoints):
        for p in range(prompts):
            out += battles_from_games(f"p{p}", f"ckpt{c}", rng.choice(LABELS), rng.choice(LABELS), style(), style())
    return out


def arena_rows(checkpoints: tuple[int, ...], prompts: int, rounds: int) -> list[dict[str, Any]]:
    from bolt_eval.arena.style_control import bootstrap, fit

    fit(synthetic_battles(1, 20, seed=99), "both")  # warm-up: scikit-learn's first fit pays its imports
    rows = []
    for n in checkpoints:
        battles = synthetic_battles(n, prompts)
        t0 = time.perf_counter()
        fit(battles, "both")
        t1 = time.perf_counter()
        bootstrap(battles, "both", rounds=rounds)
        t2 = time.perf_counter()
        rows.append({"what": f"arena fit, {n} checkpoint(s)", "size": f"{len(battles)} battles",
                     "fit_s": t1 - t0, "bootstrap_s": t2 - t1, "total_s": t2 - t0})
    for r, n in zip(rows, checkpoints):
        r["per_checkpoint_vs_one"] = r["total_s"] / n / rows[0]["total_s"]
    return rows


def synthetic_runs(n_runs: int, items: int, seed: int = 0) -> list[Any]:
    """In-memory MATH500-like runs (0/1 per item) that compare accepts as one column."""
    from bolt_eval.comparing.runs import RunData

    rng = random.Random(seed)
    config = {"task_version": "1", "data": {"sha256": "bench"}, "sampling": {"temperature": 0.0}}
    runs = []
    for k in range(n_runs):
        values = {f"item{i}": float(rng.random() < 0.3 + 0.005 * k) for i in range(items)}
        mean = sum(values.values()) / items
        summary = {"task": "math500", "n_samples": items, "metrics": {},
                   "headline": {"metric": "accuracy", "mean": mean, "lo": mean - 0.04, "hi": mean + 0.04, "n": items}}
        runs.append(RunData(Path(f"run{k}"), {"label": f"ckpt{k}", "config": config}, summary,
                            values, {i: 1.0 for i in values}))
    return runs


def compare_rows(counts: tuple[int, ...], items: int, repeats: int) -> list[dict[str, Any]]:
    from bolt_eval.comparing.table import compare

    rows = []
    for n in counts:
        runs = synthetic_runs(n, items)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            cmp = compare(runs, rounds=1000)
            times.append(time.perf_counter() - t0)
        assert sum(c.delta is not None for c in cmp.cells.values()) == n - 1
        rows.append({"what": f"compare, {n} runs", "size": f"{items} items x {n - 1} paired deltas",
                     "total_s": statistics.median(times)})
    for r, n in zip(rows, counts):
        r["per_checkpoint_vs_one"] = r["total_s"] / (n - 1) / (rows[0]["total_s"] / (counts[0] - 1))
    return rows


def run(quick: bool) -> dict[str, Any]:
    repeats = 1 if quick else 3
    if quick:
        rows = arena_rows((1, 3), prompts=40, rounds=5) + compare_rows((2, 5), items=50, repeats=repeats)
    else:
        rows = arena_rows((1, 10, 50), prompts=750, rounds=100) + compare_rows((2, 50), items=500, repeats=repeats)
    notes = ["per checkpoint vs one: seconds per checkpoint (per delta for compare) over the same at the first size",
             f"arena fit: one timing per size (the largest bootstrap alone takes minutes); compare: median of {repeats}",
             "the bootstrap refits serially on one core"]
    return {"rows": rows, "notes": notes}
