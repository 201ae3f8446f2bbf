"""WB-Score and WB-Reward from verdicts: the arithmetic of the official leaderboard scripts.

Sources (allenai/WildBench):
- task groups: `task_group_new` in leaderboard/data_dir/_create_tables.py (and
  leaderboard/data_utils.py); an item belongs to the groups of its primary *and* secondary tags.
- WB-Score: a group's score is the mean of its items' 1-10 grades, rescaled (mean - 5) * 2;
  the task-macro score weighs the groups with `weights_by_task` (Creative 0.5, Planning &
  Reasoning 1.25, Math & Data Analysis 1, Information/Advice seeking 0.75, Coding & Debugging
  1.25); leaderboard/data_dir/_merge_results.py shows both x10 (`WB_score`, `WB_score.task_macro`).
- WB-Reward: A++/A+/A=B/B+/B++ in the candidate's terms are +1, +0.5, 0, -0.5, -1; with K >= 0
  a slight win (either side) becomes a tie when the winner's answer is longer than the loser's
  by more than K characters (_create_tables.py); the reward-mix is the mean over the reference
  models (_merge_results.py `mixture_of_rewards`, `task_macro_reward`), shown x100.

Where this differs, and why: the official macro divides by the sum of all five weights even
when a group has no item; here by the weights of the groups present (the same number on the
full 1024 tasks, a fair one on a subset). A summary on a subset that lacks groups names them
and gives the official reading beside (`groups_missing`, `wb_score_macro_official`). The official tables leave battles with a truncated
or empty answer out of the group rewards (and count them as 0 in the overall reward); here
every judged item counts everywhere, since a truncated answer is what the judge saw.
"""

from __future__ import annotations

import random
import warnings
from typing import Callable, Sequence

import numpy as np

from bolt_eval.stats import Estimate

TASK_GROUP = {
    "Information seeking": "Information/Advice seeking",
    "Creative Writing": "Creative Tasks",
    "Coding & Debugging": "Coding & Debugging",
    "Reasoning": "Planning & Reasoning",
    "Editing": "Creative Tasks",
    "Math": "Math & Data Analysis",
    "Planning": "Planning & Reasoning",
    "Brainstorming": "Creative Tasks",
    "Role playing": "Creative Tasks",
    "Advice seeking": "Information/Advice seeking",
    "Data Analysis": "Math & Data Analysis",
    "Others": "Creative Tasks",
}
GROUP_WEIGHTS = {
    "Creative Tasks": 0.5,
    "Planning & Reasoning": 1.25,
    "Math & Data Analysis": 1.0,
    "Information/Advice seeking": 0.75,
    "Coding & Debugging": 1.25,
}
GROUPS = tuple(GROUP_WEIGHTS)
# The candidate's reward for a choice in the judge's A/B terms, when the candidate is A.
REWARD_AS_A = {"A++": 1.0, "A+": 0.5, "A=B": 0.0, "B+": -0.5, "B++": -1.0}
K_DEFAULT = 500
K_LEADERBOARD = (-1, 100, 300, 500, 1000, 1500, 2000, 3000)  # the K values _merge_results.py tabulates


def groups_of(primary: str, secondary: Sequence[str]) -> tuple[str, ...]:
    """The task groups of an item (deduplicated, in GROUPS order)."""
    found = {TASK_GROUP[t] for t in (primary, *secondary)}
    return tuple(g for g in GROUPS if g in found)


def adjusted(grade: float) -> float:
    """A 1-10 grade on the WB-Score scale: (grade - 5) * 2, x10 as the leaderboard shows it."""
    return (grade - 5.0) * 2.0 * 10.0


def candidate_is_a(seed: int, item: str, reference: str) -> bool:
    """One random order per (item, reference model), fixed by the seed: the official eval.py
    flips a coin per item (`random.random() < 0.5`, seed 42) and asks that order only. Here
    the coin is drawn from the item and reference names, so it does not move with --limit."""
    return random.Random(f"{seed}\x00{item}\x00{reference}").random() < 0.5


def reward(choice: str, candidate_a: bool, cand_len: int, ref_len: int, k: int = K_DEFAULT) -> float:
    """The candidate's reward for one battle; K turns a slight win of the longer answer into
    a tie (lengths in characters; K < 0 disables)."""
    value = REWARD_AS_A[choice] if candidate_a else -REWARD_AS_A[choice]
    if k >= 0 and abs(value) == 0.5:
        winner_len, loser_len = (cand_len, ref_len) if value > 0 else (ref_len, cand_len)
        if winner_len > loser_len + k:
            return 0.0
    return value


def macro(values: Sequence[float], groups: Sequence[Sequence[str]]) -> float:
    """Task-macro average: per group the mean of its items' values, then the weighted mean
    over the groups present."""
    sums: dict[str, list[float]] = {}
    for v, gs in zip(values, groups, strict=True):
        for g in gs:
            sums.setdefault(g, []).append(v)
    if not sums:
        return float("nan")
    return sum(GROUP_WEIGHTS[g] * float(np.mean(v)) for g, v in sums.items()) / sum(GROUP_WEIGHTS[g] for g in sums)


def macro_weights(groups: Sequence[Sequence[str]]) -> list[float]:
    """Per item, its weight in the task macro: sum over its groups of w_g / n_g. Then
    sum(w_i * v_i) / sum(w_i) is the macro, which is what `Task.item_weights` needs."""
    counts: dict[str, int] = {}
    for gs in groups:
        for g in gs:
            counts[g] = counts.get(g, 0) + 1
    return [sum(GROUP_WEIGHTS[g] / counts[g] for g in gs) for gs in groups]


class Resampled:
    """Values of items (n x R: one column per reference model, or R = 1 for the grade; NaN
    where an item has no verdict) and their groups (n x G membership), evaluated on all
    items (`point`) and on `rounds` bootstrap draws of items (`draws`): the percentile
    bootstrap over tasks of stats.bootstrap_mean (numpy default_rng(seed), rounds x n)."""

    def __init__(self, values: np.ndarray, groups: Sequence[Sequence[str]], rounds: int = 1000, seed: int = 0) -> None:
        self.values = np.asarray(values, dtype=float).reshape(len(groups), -1)
        self.member = np.array([[g in gs for g in GROUPS] for gs in groups], dtype=float).reshape(len(groups), len(GROUPS))
        n = len(groups)
        self.point_idx = np.arange(n)[None, :]
        self.draw_idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n)) if n else np.zeros((0, 0), int)

    def _sums(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        valid = ~np.isnan(self.values)
        vals, ok, member = np.nan_to_num(self.values)[idx], valid[idx].astype(float), self.member[idx]
        return np.einsum("bnr,bng->brg", vals, member), np.einsum("bnr,bng->brg", ok, member)

    def means(self, idx: np.ndarray) -> np.ndarray:
        """Per draw and column, the mean over items with a value: (draws, R)."""
        valid = ~np.isnan(self.values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(self.values)[idx].sum(axis=1) / valid[idx].sum(axis=1)

    def group_means(self, idx: np.ndarray) -> np.ndarray:
        """Per draw, column and group: (draws, R, G), NaN where a group has no value."""
        sums, counts = self._sums(idx)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def macros(self, idx: np.ndarray) -> np.ndarray:
        """Per draw and column, the task-macro mean over the groups present: (draws, R)."""
        gm = self.group_means(idx)
        w = np.array([GROUP_WEIGHTS[g] for g in GROUPS])
        present = ~np.isnan(gm)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(present, gm * w, 0.0).sum(axis=-1) / np.where(present, w, 0.0).sum(axis=-1)

    def official_macro(self) -> np.ndarray:
        """Per column, the task macro as the official scorer divides it: the weighted sum over
        the groups present by the sum of all five weights (lower on a subset lacking groups)."""
        gm = self.group_means(self.point_idx)[0]
        w = np.array([GROUP_WEIGHTS[g] for g in GROUPS])
        return np.where(np.isnan(gm), 0.0, gm * w).sum(axis=-1) / w.sum()

    def missing_groups(self) -> list[str]:
        """The task groups with no item holding a value (in any column)."""
        counts = self._sums(self.point_idx)[1][0].sum(axis=0)
        return [g for g, c in zip(GROUPS, counts) if c == 0]

    def estimate(self, stat: Callable[[np.ndarray], np.ndarray], alpha: float = 0.05) -> Estimate:
        """`stat(idx)` -> one number per draw (shape (draws,)), with its interval."""
        n = self.values.shape[0]
        if n == 0:
            return Estimate(float("nan"), float("nan"), float("nan"), 0)
        point = float(stat(self.point_idx)[0])
        draws = stat(self.draw_idx)
        draws = draws[~np.isnan(draws)]
        if np.isnan(point) or draws.size == 0:
            return Estimate(point, float("nan"), float("nan"), n)
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return Estimate(point, float(lo), float(hi), n)


def mix(per_column: np.ndarray) -> np.ndarray:
    """The reward-mix: the mean over reference models (columns) of their rewards."""
    if not per_column.shape[-1]:
        return np.full(per_column.shape[:-1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw where a model has no verdict
        return np.nanmean(per_column, axis=-1)
