"""Statistics: the Arena-Hard-SC fit with bootstrap, and compare's paired bootstrap.

Arena-Hard-SC: N checkpoints x 750 prompts x 2 games against one baseline, verdicts and
style features drawn at random (seeded), fitted together (`style_control.fit`, style
"both") and bootstrapped 100 rounds, as `bolt-eval arena-fit` does for a training run.
The ratio is the cost per checkpoint relative to one checkpoint alone: above 1, fitting
checkpoints together costs more per checkpoint than fitting one (the fit has a parameter
per checkpoint, so each iteration grows with both battles and parameters). Besides wall
time, the CPU seconds of the process: on a shared machine they are what the fit costs.

Every number of every fit (point estimates, parity rates, style coefficients, interval
ends and counts) is compared with `statistics_fit_golden.json`, the output of the serial
scikit-learn refit that the weighted Newton fit replaced (git 181da00): a difference above
1e-6 fails the case.

compare: `comparing.table.compare` over 50 runs of 500 items (a MATH500 run each) against
the first, every delta a 1000-round paired bootstrap, relative to a 2-run comparison.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

TITLE = "5. Statistics: Arena-Hard-SC fit + 100-round bootstrap; compare's paired bootstrap over 50 runs"
ORDER = 5
LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
GOLDEN = Path(__file__).with_name("statistics_fit_golden.json")
TOLERANCE = 1e-6


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


def arena_numbers(result: Any, intervals: dict[str, Any]) -> dict[str, Any]:
    """What a fit and its bootstrap report, in the golden file's layout."""
    return {"win_rate": result.win_rate, "win_rate_parity": result.win_rate_parity, "style_coefs": result.style_coefs,
            "notes": list(result.notes),
            "interval": {m: [i.lo, i.hi, i.rounds_without_style] for m, i in intervals.items()}}


def golden_difference(numbers: dict[str, Any], golden: dict[str, Any]) -> float:
    """The largest absolute difference from the golden numbers; inf when what is reported
    differs (models, notes, a coefficient estimable in one and not the other)."""
    worst = 0.0
    if numbers["notes"] != golden["notes"]:
        return float("inf")
    for key in ("win_rate", "win_rate_parity", "style_coefs", "interval"):
        mine, theirs = numbers[key], golden[key]
        if list(mine) != list(theirs):
            return float("inf")
        for k in theirs:
            a, b = ([mine[k]], [theirs[k]]) if not isinstance(theirs[k], list) else (mine[k], theirs[k])
            for x, y in zip(a, b):
                if (x is None) != (y is None):
                    return float("inf")
                worst = max(worst, 0.0 if x is None else abs(x - y))
    return worst


def arena_rows(checkpoints: tuple[int, ...], prompts: int, rounds: int) -> list[dict[str, Any]]:
    from bolt_eval.arena.style_control import bootstrap, fit

    golden = {(g["checkpoints"], g["prompts"], g["rounds"]): g for g in json.loads(GOLDEN.read_text())}
    fit(synthetic_battles(1, 20, seed=99), "both")  # warm-up: the first fit pays scipy's imports
    rows = []
    for n in checkpoints:
        battles = synthetic_battles(n, prompts)
        c0, t0 = time.process_time(), time.perf_counter()
        result = fit(battles, "both")
        t1 = time.perf_counter()
        intervals = bootstrap(battles, "both", rounds=rounds)
        t2, c2 = time.perf_counter(), time.process_time()
        reference = golden.get((n, prompts, rounds))  # None: no golden recorded at this size
        diff = golden_difference(arena_numbers(result, intervals), reference) if reference else None
        rows.append({"what": f"arena fit, {n} checkpoint(s)", "size": f"{len(battles)} battles",
                     "fit_s": t1 - t0, "bootstrap_s": t2 - t1, "total_s": t2 - t0, "cpu_s": c2 - c0,
                     "golden_cpu_s": reference["cpu_s"] if reference else None, "max_abs_diff_vs_golden": diff})
    for r, n in zip(rows, checkpoints):
        r["per_checkpoint_vs_one"] = r["cpu_s"] / n / rows[0]["cpu_s"]
    worst = max((r["max_abs_diff_vs_golden"] for r in rows if r["max_abs_diff_vs_golden"] is not None), default=0.0)
    if worst > TOLERANCE:
        raise SystemExit(f"statistics_fit: the Arena-Hard-SC numbers differ from {GOLDEN.name} by {worst:g} "
                         f"(more than {TOLERANCE:g})")
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
        rows = arena_rows((1, 3), prompts=40, rounds=10) + compare_rows((2, 5), items=50, repeats=repeats)
    else:
        rows = arena_rows((1, 10, 50), prompts=750, rounds=100) + compare_rows((2, 50), items=500, repeats=repeats)
    notes = ["per checkpoint vs one: CPU seconds per checkpoint (arena; wall seconds per delta for compare) over "
             "the same at the first size",
             f"arena fit: one timing per size; compare: median of {repeats}",
             "arena: cpu s is the process's CPU time (all threads), wall s depends on the machine's load; golden cpu s "
             "is the serial scikit-learn refit's CPU time when the golden was recorded (git 181da00)",
             f"max abs diff vs golden: over every win rate, parity rate, style coefficient and interval end (at most "
             f"{TOLERANCE:g}, else the case fails); blank where the golden file has no entry of that size",
             "the bootstrap refits each resample as weights on one table, warm-started from the full fit, one core"]
    return {"rows": rows, "notes": notes}
