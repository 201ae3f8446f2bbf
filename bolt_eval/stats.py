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
