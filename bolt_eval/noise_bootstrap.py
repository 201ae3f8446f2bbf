"""The two-level bootstrap: resample items, then, for an item the judge was asked about
again, one of its verdict sets among the repeats (Davison & Hinkley, 1997, "Bootstrap
Methods and their Application", section 3.8: two-stage resampling).

An item's *variants* are its records as judged the first time (variant 0) and as judged by
repeat r (variant r: every repeated judgment of the item takes the verdict of its repeat r
together; `judging/noise.py` repeats all judgments of a chosen item). A variant whose
statuses differ from the original's (a repeat without a verdict) is left out, so an item
keeps its weight in every variant. Each bootstrap round draws items exactly as the item-only
bootstrap of the task does (the same generator, seed and draws), then, for each drawn
position on its own, a variant uniformly among the item's valid ones, from a second
generator; an item without repeats has one variant. Repeats that all agree therefore give
back the item-only interval exactly, and the widening is the judge's noise alone.

The draws centre on the statistic of all verdicts (each item's variants weighing equally),
not on the headline, which reads the first verdicts only (so that it does not move when
repeats are added); their spread is that of the headline's estimator. The interval is
therefore the percentile interval moved by (headline - statistic of all verdicts): the
spread of the two-level bootstrap around the number reported. With agreeing repeats the
move is exactly 0.

Under judge errors independent across items the item-only bootstrap of single verdicts
already holds the judge's variance in its between-item variance; the two-level draw's
variance is then the same in expectation (between-item variance of an item's mean verdict,
plus the within-item spread), estimated from more verdicts. It differs where the repeats
show more (or less) disagreement than the single verdicts let the item bootstrap see.

Per headline:
- ratio headlines (MT-Bench's mean over judged grades, any `item_values` / `item_weights`
  task): `two_level_ratio`, as `stats.bootstrap_ratio` (via `clustered_mean`);
- WildBench's task-macro WB-Score: `two_level_macro`, the official arithmetic of
  `wildbench.scoring.Resampled` on the stacked variants;
- Arena-Hard's style-controlled win rate: `two_level_arena`, battles resampled as
  `arena.style_control.bootstrap` does (or prompts with --cluster-bootstrap), a drawn
  battle taking its prompt's battles in a random variant, refitted each round;
- paired deltas (`compare`, `gate`): `two_level_paired`, as `stats.paired_delta`, each
  side's variants drawn on their own.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from bolt_eval.stats import Estimate, weighted_ratio

NAN = float("nan")


def variant_records(records: list[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], np.ndarray]:
    """(variants, valid): variants[v] are the records as repeat v judged them (v = 0: as
    judged first); valid[v, i] says whether item i has a usable variant v."""
    depth = 1 + max((len(j["repeats"]) for r in records for o in r["outputs"] for j in o["judgments"].values()
                     if "repeats" in j), default=0)
    valid = np.zeros((depth, len(records)), dtype=bool)
    valid[0] = True
    variants = [records]
    for v in range(1, depth):
        current = []
        for i, r in enumerate(records):
            repeated = [j for o in r["outputs"] for j in o["judgments"].values() if "repeats" in j]
            valid[v, i] = bool(repeated) and all(
                len(j["repeats"]) >= v and (j["repeats"][v - 1]["status"] == "ok") == (j["status"] == "ok")
                for j in repeated)
            if not valid[v, i]:
                current.append(r)  # never drawn
                continue
            current.append({**r, "outputs": [
                {**o, "judgments": {n: (dict(j["repeats"][v - 1]) if "repeats" in j else j)
                                    for n, j in o["judgments"].items()}} for o in r["outputs"]]})
        variants.append(current)
    return variants, valid


def pick(valid: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For every drawn item position idx[b, k], a variant uniformly among the item's valid ones."""
    counts = valid.sum(axis=0)
    order = np.argsort(~valid, axis=0, kind="stable")  # per item, its valid variants first, in order
    j = (rng.random(idx.shape) * counts[idx]).astype(int)
    return order[j, idx]


def item_arrays(task: Any, samples: list[Any], variants: list[list[dict[str, Any]]]) -> tuple[np.ndarray, np.ndarray]:
    """(values, weights), each (variants x items), from the task's own item_values / item_weights."""
    ids = [r["id"] for r in variants[0]]
    values, weights = [], []
    for recs in variants:
        v, w = task.item_values(samples, recs), task.item_weights(samples, recs)
        values.append([v[i] for i in ids])
        weights.append([w.get(i, 0.0) for i in ids])
    return np.array(values, dtype=float), np.array(weights, dtype=float)


def pooled(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per item, the mean of its valid variants' values, as v0 + mean(v - v0): exactly v0
    when they agree (no rounding)."""
    diff = np.where(valid, values - values[0], 0.0)
    return values[0] + diff.sum(axis=0) / valid.sum(axis=0)


def two_level_ratio(values: np.ndarray, weights: np.ndarray, valid: np.ndarray, rounds: int = 1000, seed: int = 0,
                    alpha: float = 0.05) -> Estimate:
    """sum(w v) / sum(w) over the items with a value, with the two-level interval; the item
    draws are those of `stats.bootstrap_ratio` on the same items (n counts them)."""
    keep = (weights[0] > 0) & ~np.isnan(values[0])
    num, den, ok = (np.nan_to_num(values) * weights)[:, keep], weights[:, keep], valid[:, keep]
    n = int(keep.sum())
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0)
    idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    v = pick(ok, idx, np.random.default_rng([seed, 1]))
    ratios = num[v, idx].sum(axis=1) / np.maximum(den[v, idx].sum(axis=1), 1e-12)
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    point = num[0].sum() / den[0].sum()
    shift = point - pooled(num, ok).sum() / pooled(den, ok).sum()
    return Estimate(float(point), float(lo + shift), float(hi + shift), n)


def two_level_paired(base: tuple[np.ndarray, np.ndarray, np.ndarray], cand: tuple[np.ndarray, np.ndarray, np.ndarray],
                     rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> Estimate:
    """Candidate minus baseline as `stats.paired_delta` (same item draws), each side's item
    taking a variant of its own per drawn position. Each side: (values, weights, valid),
    variants x items, items aligned."""
    (bv, bw, bok), (cv, cw, cok) = base, cand
    bw, cw = np.where(np.isnan(bv), 0.0, bw), np.where(np.isnan(cv), 0.0, cw)
    bnum, cnum = np.nan_to_num(bv) * bw, np.nan_to_num(cv) * cw
    point = weighted_ratio(cv[0], cw[0]) - weighted_ratio(bv[0], bw[0])
    n = bv.shape[1]
    if n == 0 or np.isnan(point):
        return Estimate(NAN, NAN, NAN, n)
    idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    b, c = pick(bok, idx, np.random.default_rng([seed, 1])), pick(cok, idx, np.random.default_rng([seed, 2]))
    bden, cden = bw[b, idx].sum(axis=1), cw[c, idx].sum(axis=1)
    ok = (bden > 0) & (cden > 0)
    deltas = cnum[c, idx].sum(axis=1)[ok] / cden[ok] - bnum[b, idx].sum(axis=1)[ok] / bden[ok]
    lo, hi = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    shift = point - (pooled(cnum, cok).sum() / pooled(cw, cok).sum() - pooled(bnum, bok).sum() / pooled(bw, bok).sum())
    return Estimate(float(point), float(lo + shift), float(hi + shift), n)


def two_level_macro(values: np.ndarray, valid: np.ndarray, groups: Sequence[Sequence[str]], rounds: int = 1000,
                    seed: int = 0, alpha: float = 0.05) -> Estimate:
    """WildBench's task-macro WB-Score (`scoring.Resampled.macros`, its draws) with a variant
    per drawn position: the variants are stacked as rows v * n + i of one Resampled."""
    from bolt_eval.wildbench.scoring import Resampled

    depth, n = values.shape
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0)
    stacked = Resampled(values.reshape(depth * n, 1), list(groups) * depth, rounds=1)
    idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n))  # Resampled's own draws on n items
    v = pick(valid, idx, np.random.default_rng([seed, 1]))
    point = float(stacked.macros(np.arange(n)[None, :])[0, 0])
    with np.errstate(invalid="ignore"):
        draws = stacked.macros(v * n + idx)[:, 0]
    draws = draws[~np.isnan(draws)]
    if np.isnan(point) or draws.size == 0:
        return Estimate(point, NAN, NAN, n)
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    with np.errstate(invalid="ignore"):
        centre = float(Resampled(pooled(values, valid), groups, rounds=1).macros(np.arange(n)[None, :])[0, 0])
    return Estimate(point, float(lo + point - centre), float(hi + point - centre), n)


def two_level_arena(per_prompt: list[list[list[Any]]], valid: np.ndarray, style: str = "both", rounds: int = 100,
                    seed: int = 0, cluster: bool = False, frozen: Any = None) -> tuple[float, float]:
    """95% interval of the style-controlled win rate of the (one) model in the battles.
    per_prompt[p][v]: prompt p's battles in variant v; valid: (variants x prompts).

    Battles resampled (`cluster=False`, upstream): prompt p owns as many slots as its
    largest valid variant has battles (a strong verdict is three battles, a weak one one);
    each round draws slots as style_control.bootstrap draws battles, and a drawn slot s of
    p is battle s of a random valid variant of p, or nothing when that variant has fewer.
    Prompts resampled (`cluster=True`): each drawn prompt brings all battles of a random
    valid variant. With one variant per prompt this is style_control.bootstrap itself.
    The percentiles are moved by (fit of the first verdicts - fit of all verdicts, every
    prompt's variants weighing equally) and kept in [0, 1]."""
    from bolt_eval.arena import style_control

    if rounds < style_control.MIN_ROUNDS:
        from bolt_eval.types import UserError

        raise UserError(f"--bootstrap-rounds {rounds}: too few for a 95% interval; use at least "
                        f"{style_control.MIN_ROUNDS} (upstream uses 100)")
    prompts = [p for p in range(len(per_prompt)) if per_prompt[p][0]]
    size = {p: max(len(per_prompt[p][v]) for v in range(valid.shape[0]) if valid[v, p]) for p in prompts}
    slot_prompt = np.array([p for p in prompts for _ in range(size[p])], dtype=int)
    slot_index = np.array([s for p in prompts for s in range(size[p])], dtype=int)
    rng, choose = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    rates = []
    for _ in range(rounds):
        if cluster:
            drawn = np.array(prompts, dtype=int)[rng.choice(len(prompts), len(prompts))]
            vs = pick(valid, drawn[None, :], choose)[0]
            battles = [b for p, v in zip(drawn, vs) for b in per_prompt[p][v]]
        else:
            slots = rng.integers(0, len(slot_prompt), len(slot_prompt))
            ps, ss = slot_prompt[slots], slot_index[slots]
            vs = pick(valid, ps[None, :], choose)[0]
            battles = [per_prompt[p][v][s] for p, v, s in zip(ps, vs, ss) if s < len(per_prompt[p][v])]
        (rate,) = style_control.fit(battles, style, frozen).win_rate.values()
        rates.append(rate)
    shift = _rate([b for p in prompts for b in per_prompt[p][0]], style, frozen) - _rate(
        _pooled_battles(per_prompt, valid, prompts), style, frozen)
    return (float(np.clip(np.percentile(rates, 2.5) + shift, 0.0, 1.0)),
            float(np.clip(np.percentile(rates, 97.5) + shift, 0.0, 1.0)))


def _rate(battles: list[Any], style: str, frozen: Any) -> float:
    from bolt_eval.arena import style_control

    (rate,) = style_control.fit(battles, style, frozen).win_rate.values()
    return rate


def _pooled_battles(per_prompt: list[list[list[Any]]], valid: np.ndarray, prompts: list[int]) -> list[Any]:
    """Every valid variant's battles, each prompt's variants weighing equally: a prompt with
    c variants repeats each lcm / c times (lcm of the c's: K + 1 when every repeat has its verdict)."""
    counts = {p: int(valid[:, p].sum()) for p in prompts}
    lcm = math.lcm(*counts.values()) if counts else 1
    return [b for p in prompts for v in np.flatnonzero(valid[:, p]) for b in per_prompt[p][v] * (lcm // counts[p])]


def arena_variants(task: Any, samples: list[Any], variants: list[list[dict[str, Any]]],
                   category: str) -> list[list[list[Any]]]:
    """Per sample (prompt), per variant, its battles in `category` (the task's own battles)."""
    out: list[list[list[Any]]] = [[[] for _ in variants] for _ in samples]
    position = {s.id: i for i, s in enumerate(samples)}
    for v, recs in enumerate(variants):
        for b in task.battles(samples, recs):
            if b.model.split("|", 1)[1] == category:
                out[position[b.prompt]][v].append(b)
    return out


def widened_headline(task: Any, samples: list[Any], records: list[dict[str, Any]],
                     headline: dict[str, Any]) -> Estimate | None:
    """The task's headline with the two-level interval (same point and n as `headline`),
    or None for a task without judged items."""
    from bolt_eval.benchmarks.arena_hard import ArenaHard
    from bolt_eval.benchmarks.wildbench import WildBench

    variants, valid = variant_records(records)
    if isinstance(task, ArenaHard):
        categories = sorted({b.model.split("|", 1)[1] for b in task.battles(samples, records)})
        category = task.headline_category(dict.fromkeys(categories))
        if category is None:
            return None
        per_prompt = arena_variants(task, samples, variants, category)
        lo, hi = two_level_arena(per_prompt, valid, task.style, task.rounds, cluster=bool(
            task.options.get("cluster_bootstrap")), frozen=task.frozen_normalisation())
        return Estimate(headline["mean"], lo, hi, headline["n"])
    if isinstance(task, WildBench):
        values, _ = item_arrays(task, samples, variants)
        est = two_level_macro(values, valid, [s.reference["groups"] for s in samples])
    else:
        try:
            values, weights = item_arrays(task, samples, variants)
        except NotImplementedError:
            return None
        est = two_level_ratio(values, weights, valid)
    return Estimate(headline["mean"], est.lo, est.hi, headline["n"])


def item_variants(task: Any, samples: list[Any], records: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Per item id, (value, weight) of each of its valid variants, variant 0 first: what a
    paired two-level bootstrap needs (empty when no record holds repeats)."""
    variants, valid = variant_records(records)
    if valid.shape[0] == 1:
        return {}
    values, weights = item_arrays(task, samples, variants)
    return {r["id"]: [(float(values[v, i]), float(weights[v, i])) for v in range(valid.shape[0]) if valid[v, i]]
            for i, r in enumerate(records)}


def arrays_of(variants: dict[str, list[tuple[float, float]]], values: dict[str, float], weights: dict[str, float],
              ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, weights, valid), variants x `ids`, from `item_variants` (or from the single
    values and weights of a run without repeats)."""
    rows = [variants.get(i) or [(values[i], weights.get(i, 0.0))] for i in ids]
    depth = max((len(r) for r in rows), default=1)
    v, w, ok = np.full((depth, len(ids)), NAN), np.zeros((depth, len(ids))), np.zeros((depth, len(ids)), dtype=bool)
    for i, row in enumerate(rows):
        for k, (x, y) in enumerate(row):
            v[k, i], w[k, i], ok[k, i] = x, y, True
    return v, w, ok
