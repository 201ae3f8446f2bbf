"""Stage 1's filter after the format rules: the ORM percentile, then the argmax per query.

BOLT (Pang et al., 2025, Section 3.1) keeps, for each query, the best-scored of its
format-valid responses after dropping responses below the 30th percentile of ORM scores.
We take the percentile over the whole pool of scored responses (`scope: pool`, the
default): the paper's filter is a quality floor for the data set, and a per-query
percentile would keep the best of a uniformly bad group. `scope: query` is there for the
other reading. The percentile is numpy's linear interpolation; a response whose reward
equals the threshold is kept. Ties for the argmax go to the lowest sample index, so the
choice is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scored:
    query: str
    index: int  # sample index within the query
    reward: float | None  # None: format-rejected or the reward failed
    reason: str | None = None  # why it has no reward: a format rule, or "reward_failed"


@dataclass
class Selection:
    chosen: dict[str, Scored]  # query id -> the kept response
    threshold: dict[str, float | None]  # "pool" or query id -> the percentile value
    verdicts: dict[tuple[str, int], str] = field(default_factory=dict)  # (query, index) -> why kept or not
    counts: dict[str, int] = field(default_factory=dict)


def select(pool: list[Scored], percentile: float, scope: str = "pool") -> Selection:
    import numpy as np

    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be within 0..100, got {percentile}")
    valid = [s for s in pool if s.reward is not None]
    groups: dict[str, list[Scored]] = {}
    for s in pool:
        groups.setdefault(s.query, [])
    for s in valid:
        groups[s.query].append(s)
    thresholds: dict[str, float | None] = {}
    if scope == "pool":
        value = float(np.percentile([s.reward for s in valid], percentile)) if valid else None
        thresholds = {"pool": value}
        floor = {q: value for q in groups}
    else:
        floor = {q: float(np.percentile([s.reward for s in g], percentile)) if g else None for q, g in groups.items()}
        thresholds = dict(floor)
    verdicts: dict[tuple[str, int], str] = {}
    chosen: dict[str, Scored] = {}
    for s in pool:
        if s.reward is None:
            verdicts[(s.query, s.index)] = s.reason or "no_reward"
    for q, group in groups.items():
        above = [s for s in group if s.reward >= floor[q]]  # type: ignore[operator]
        for s in group:
            verdicts[(s.query, s.index)] = "below_percentile"
        if above:
            best = max(above, key=lambda s: (s.reward, -s.index))
            chosen[q] = best
            for s in above:
                verdicts[(s.query, s.index)] = "not_best"
            verdicts[(best.query, best.index)] = "kept"
    counts: dict[str, Any] = {}
    for v in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    counts["queries_kept"] = len(chosen)
    counts["queries_without_survivor"] = len(groups) - len(chosen)
    return Selection(chosen, thresholds, verdicts, counts)
