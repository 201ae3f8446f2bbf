"""Statistics shared by every benchmark: bootstrap confidence intervals.

Percentile bootstrap over items (Efron & Tibshirani, 1993): resample items with
replacement, take the mean each round, report the alpha/2 and 1-alpha/2 quantiles. The
seed is fixed so a summary is reproducible byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def bootstrap_mean(
    values: Sequence[float], rounds: int = 1000, seed: int = 0, alpha: float = 0.05
) -> Estimate:
    """Mean of `values` with a percentile-bootstrap (1 - alpha) interval."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(rounds, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(x.mean()), float(lo), float(hi), int(x.size))


def grouped(
    values: Sequence[float], keys: Sequence[object], rounds: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """One bootstrap estimate per distinct key (subject, level, category...)."""
    groups: dict[str, list[float]] = {}
    for v, k in zip(values, keys, strict=True):
        groups.setdefault(str(k), []).append(v)
    return {k: bootstrap_mean(v, rounds, seed) for k, v in sorted(groups.items())}


def bootstrap_ratio(
    num: Sequence[float], den: Sequence[float], rounds: int = 1000, seed: int = 0, alpha: float = 0.05
) -> Estimate:
    """sum(num) / sum(den) (a micro average, e.g. cells right / cells) with an interval from
    resampling items, so cells of one puzzle move together."""
    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if a.size == 0 or b.sum() == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), int(a.size))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(rounds, a.size))
    ratios = a[idx].sum(axis=1) / np.maximum(b[idx].sum(axis=1), 1e-12)
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(a.sum() / b.sum()), float(lo), float(hi), int(a.size))


def clustered_mean(values: Sequence[float], clusters: Sequence[object], rounds: int = 1000,
                   seed: int = 0) -> Estimate:
    """Mean over all values, with an interval from resampling clusters (questions), so the
    values of one cluster (two turns, n samples) move together. n counts clusters."""
    num: dict[object, float] = {}
    den: dict[object, float] = {}
    for v, c in zip(values, clusters, strict=True):
        num[c] = num.get(c, 0.0) + v
        den[c] = den.get(c, 0.0) + 1
    keys = list(num)
    return bootstrap_ratio([num[k] for k in keys], [den[k] for k in keys], rounds, seed)


def weighted_ratio(values: Sequence[float], weights: Sequence[float]) -> float:
    """sum(w * v) / sum(w), items without a value (NaN, weight 0) left out: the headline
    of a task rebuilt from its item values (`Task.item_values` / `item_weights`)."""
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = ~np.isnan(v) & (w > 0)
    return float((v[keep] * w[keep]).sum() / w[keep].sum()) if keep.any() else float("nan")


def paired_delta(
    base: tuple[Sequence[float], Sequence[float]], cand: tuple[Sequence[float], Sequence[float]],
    rounds: int = 1000, seed: int = 0, alpha: float = 0.05,
) -> Estimate:
    """Candidate minus baseline headline, with a paired (item-clustered) percentile bootstrap.

    Both runs answered the same items, aligned by position: `base` and `cand` are
    (values, weights) per item. Each round draws one set of items and recomputes both
    headlines as sum(w * v) / sum(w) on it, so an item's two answers move together and
    the interval reflects the spread of per-item differences, not of two independent
    means (far narrower when the runs agree on most items). Micro averages (ZebraLogic
    cells, MT-Bench judged grades) come out right because the ratio is recomputed each
    round. A round whose draw has no weight on one side is left out. n counts items."""
    bv, bw = (np.asarray(x, dtype=float) for x in base)
    cv, cw = (np.asarray(x, dtype=float) for x in cand)
    if not (bv.shape == bw.shape == cv.shape == cw.shape):
        raise ValueError(f"paired_delta: item arrays differ in length ({bv.size}, {bw.size}, {cv.size}, {cw.size})")
    bw, cw = np.where(np.isnan(bv), 0.0, bw), np.where(np.isnan(cv), 0.0, cw)
    bnum, cnum = np.nan_to_num(bv) * bw, np.nan_to_num(cv) * cw
    point = weighted_ratio(cv, cw) - weighted_ratio(bv, bw)
    if bv.size == 0 or np.isnan(point):
        return Estimate(float("nan"), float("nan"), float("nan"), int(bv.size))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, bv.size, size=(rounds, bv.size))
    bden, cden = bw[idx].sum(axis=1), cw[idx].sum(axis=1)
    ok = (bden > 0) & (cden > 0)
    deltas = cnum[idx].sum(axis=1)[ok] / cden[ok] - bnum[idx].sum(axis=1)[ok] / bden[ok]
    lo, hi = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(point), float(lo), float(hi), int(bv.size))
