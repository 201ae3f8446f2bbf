"""Arena-Hard battles as arrays: the style difference features (`style_matrix`) and a
battle list laid out once for a fit and all its bootstrap resamples (`BattleTable`).

A bootstrap resample of N battles is N draws with replacement; refitting it from a new list
of Battle objects spent most of its time in Python building lists and dictionaries (the
profile of the bench case: style_matrix and the per-model scans took 2/3 of each refit). A
resample is instead a count per distinct battle, drawn from the same random numbers, and the
fit weighs each row by its count: the same likelihood, the same optimum. Rows of one model
with the same style difference (a prompt's two games) share their predictor, so the fit sees
them as one binomial group (`group`): half the rows for the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from bolt_eval.arena.style_control import Battle


def style_matrix(battles: Sequence[Battle], features: Sequence[str]) -> np.ndarray:
    """(battles x features), candidate vs baseline, as upstream's current show_result.py:
    length (a - b) / (a + b); a markdown count as a density (count / tokens), then
    (da - db) / (da + db + 1)."""
    if not features:
        return np.zeros((len(battles), 0))
    counts = itemgetter("tokens", *features)
    shape = (len(battles), len(features) + 1)
    a = np.array([counts(b.candidate_style) for b in battles], dtype=float).reshape(shape)
    b = np.array([counts(b.baseline_style) for b in battles], dtype=float).reshape(shape)
    out = []
    for j, f in enumerate(features, start=1):
        if f == "tokens":
            out.append((a[:, 0] - b[:, 0]) / np.maximum(a[:, 0] + b[:, 0], 1.0))
        else:
            da, db = a[:, j] / np.maximum(a[:, 0], 1.0), b[:, j] / np.maximum(b[:, 0], 1.0)
            out.append((da - db) / (da + db + 1.0))
    return np.stack(out, axis=1)


@dataclass(frozen=True)
class BattleTable:
    """One row per distinct battle, in order of first appearance (a strong verdict's three
    copies are one Battle object: one row counted three times)."""
    models: tuple[str, ...]  # sorted
    model: np.ndarray  # per row: index into models
    outcome: np.ndarray  # per row: 1 candidate wins, 0.5 tie, 0 baseline wins
    diff: np.ndarray  # per row x feature: style_matrix
    count: np.ndarray  # per row: how many of the battles given it is
    row: np.ndarray  # per battle given: its row
    prompt: np.ndarray  # per row: its prompt, numbered in order of first appearance
    prompts: int
    group: np.ndarray  # per row: its (model, style difference) group
    group_model: np.ndarray  # per group: index into models
    group_diff: np.ndarray  # per group x feature

    @classmethod
    def of(cls, battles: Sequence[Battle], features: Sequence[str]) -> BattleTable:
        ids = np.fromiter(map(id, battles), dtype=np.int64, count=len(battles))
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        distinct = [battles[i] for i in first[order]]
        models, model = np.unique(np.array([b.model for b in distinct], dtype=object), return_inverse=True)
        numbers: dict[str, int] = {}
        prompt = np.fromiter((numbers.setdefault(b.prompt, len(numbers)) for b in distinct), dtype=np.intp,
                             count=len(distinct))
        row = rank[inverse].reshape(-1)
        model = model.reshape(-1).astype(np.intp)
        diff = style_matrix(distinct, features)
        keys, group = np.unique(np.column_stack([model, diff]), axis=0, return_inverse=True)
        return cls(tuple(models), model, np.fromiter((b.outcome for b in distinct), dtype=float, count=len(distinct)),
                   diff, np.bincount(row, minlength=len(distinct)).astype(float), row, prompt, len(numbers),
                   group.reshape(-1), keys[:, 0].astype(np.intp), keys[:, 1:])

    def resample(self, picked: np.ndarray) -> np.ndarray:
        """Each row's count among the battles at positions `picked`."""
        return np.bincount(self.row[picked], minlength=len(self.model)).astype(float)

    def resample_prompts(self, picked: np.ndarray) -> np.ndarray:
        """Each row's count when whole prompts are taken, prompt numbers `picked`."""
        return self.count * np.bincount(picked, minlength=self.prompts)[self.prompt]
