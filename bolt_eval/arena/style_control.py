"""Arena-Hard scoring: battles, style features and a Bradley-Terry fit with style control.

Follows arena-hard-auto (show_result.py, utils/math_utils.py, utils/add_markdown_info.py):

- A judged prompt gives two games (baseline as A, then candidate as A). Each game is one
  battle of candidate vs baseline, repeated `weight` (3) times for a strong verdict
  ("A>>B"/"B>>A"); a tie is a tie. A prompt whose games do not both have a verdict gives
  no battle at all, as upstream's load_judgments drops it (the caller counts it).
- Style features of an answer, after removing fenced code blocks: token length, markdown
  headers (h1-h6), list items (ordered + unordered), bold spans (** and __).
- Features as upstream's current show_result.py defines them: the normalised length
  difference (a - b) / (a + b), and for each markdown count the density difference
  (da - db) / (da + db + 1) with density = count / tokens; each standardised over the
  battles (z-score).
- The fit is an unpenalised logistic regression without intercept (Bradley-Terry, as
  upstream's `bt` loss) on model indicators plus the style columns; a tie is half a win,
  written as every battle twice and a tie as one win for each side. The style-controlled
  win rate against the baseline is sigmoid(ln 10 * (beta_model - beta_baseline)),
  upstream's number: the style terms drop out, which (the columns being centred) puts it at
  the pool's *average* style difference. `win_rate_parity` adds the style terms at a zero
  difference instead: the win rate if the model wrote in the baseline's style.
  Upstream reports the bootstrap median with a 90% interval; here the full-data fit with a
  95% interval.
- Bootstrap: resample battles (upstream's way) or whole prompts (`cluster=True`), refit.
- Any battle set gives finite numbers (`bt.py`): a style feature without variation is left
  out, and where the likelihood has no finite maximum (a side wins everything, or the style
  separates the outcomes) the style coefficients are reported as not estimable and the win
  rate is fitted without style; `Fit.notes` says which. Upstream divides by the zero spread
  and asserts, or returns wherever its 50 optimiser steps stopped.

`frozen` takes the standardisation (mean, std) and optionally the style coefficients from a
reference fit, so adding a checkpoint does not move the others' scores.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bolt_eval.arena import bt
from bolt_eval.arena.table import BattleTable, style_matrix  # noqa: F401 (style_matrix: public here)
from bolt_eval.types import UserError

STYLES = {"both": ("tokens", "headers", "lists", "bold"), "length": ("tokens",),
          "markdown": ("headers", "lists", "bold"), "none": ()}
_CODE = re.compile(r"```([^`]*)```")
_HEADER = re.compile(r"^#{1,6}\s", re.M)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.M)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.M)
_BOLD = (re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__"))
LN10 = math.log(10)
MIN_STD = 1e-9  # style differences lie in (-1, 1): a spread below this is rounding noise
MIN_ROUNDS = 10  # fewer bootstrap rounds cannot place a 2.5% and a 97.5% percentile


def style_features(answer: str, count_tokens: Callable[[str], int]) -> dict[str, int]:
    """The four style counts of one answer. Token length is of the whole answer, the
    markdown counts of the answer without fenced code (as upstream)."""
    prose = _CODE.sub("", answer)
    return {
        "tokens": count_tokens(answer),
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_ORDERED.findall(prose)) + len(_UNORDERED.findall(prose)),
        "bold": sum(len(p.findall(prose)) for p in _BOLD),
    }


@dataclass(frozen=True)
class Battle:
    prompt: str  # the prompt id (for the clustered bootstrap)
    model: str  # the candidate; its opponent is the baseline
    outcome: float  # 1 candidate wins, 0.5 tie, 0 baseline wins
    candidate_style: dict[str, int]
    baseline_style: dict[str, int]


def battles_from_games(prompt: str, model: str, game1: str | None, game2: str | None,
                       candidate_style: dict[str, int], baseline_style: dict[str, int],
                       weight: int = 3) -> list[Battle]:
    """Game 1 has the baseline as A, game 2 the candidate as A. Both games need a verdict,
    else the prompt gives no battle (upstream's load_judgments drops such a prompt)."""
    if game1 is None or game2 is None:
        return []
    out = []
    for label, candidate_is_a in ((game1, False), (game2, True)):
        a_score = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}[label]
        outcome = a_score if candidate_is_a else 1.0 - a_score
        out += [Battle(prompt, model, outcome, candidate_style, baseline_style)] * (weight if ">>" in label else 1)
    return out


@dataclass(frozen=True)
class Normalisation:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coefs: tuple[float | None, ...] | None = None  # frozen style coefficients (None: not used), or None to fit


@dataclass(frozen=True)
class Fit:
    win_rate: dict[str, float]  # upstream's style-controlled win rate (model terms only), per model
    win_rate_parity: dict[str, float]  # the same model at zero style difference to the baseline
    style_coefs: dict[str, float | None]  # > 0: more of the feature wins more often; None: cannot be estimated
    normalisation: Normalisation
    notes: tuple[str, ...] = ()  # what could not be estimated on these battles, and what was reported instead
    style_controlled: bool = True  # False: the win rates are without style control (see notes)


def fit(battles: Sequence[Battle], style: str = "both", frozen: Normalisation | None = None) -> Fit:
    """Bradley-Terry with style control over all models in `battles` against one baseline,
    fitted together. With frozen style coefficients each model is fitted on its own
    battles, so adding a checkpoint cannot move another one's score.

    Whatever the battles, the numbers are finite: a style feature that does not vary (its
    spread below MIN_STD, rounding noise, which upstream would divide by) is left out with
    its coefficient None. A model that wins (or loses) every battle has no finite
    coefficient: its rate is the limit, 1 (or 0), and its battles, which then carry no
    information on style, are left out of the style fit. When the style features separate
    the remaining outcomes (`bt.separated`) the style coefficients cannot be estimated and
    the win rates are fitted without style. `notes` say which of these happened."""
    table = BattleTable.of(battles, STYLES[style])
    return _fit(table, table.count, STYLES[style], frozen)[0]


def _fit(table: BattleTable, weight: np.ndarray, features: Sequence[str], frozen: Normalisation | None,
         start: np.ndarray | None = None) -> tuple[Fit, np.ndarray]:
    """`fit` on the table's rows, each counted `weight` times; also the coefficients as one
    vector (every model of the table, then every feature; 0 where not fitted), the warm
    start of the next resample's fit (`start`)."""
    n_all, n_groups = len(table.models), len(table.group_model)
    in_group = np.bincount(table.group, weight, n_groups)
    if frozen is None:
        total = in_group.sum()
        mean = np.einsum("g,gj->j", in_group, table.group_diff) / total
        spread = np.einsum("g,gj->j", in_group, (table.group_diff - mean) ** 2) / total
        norm = Normalisation(tuple(map(float, mean)), tuple(map(float, np.sqrt(spread))))
    else:
        norm = frozen
    std, mean = np.array(norm.std, dtype=float), np.array(norm.mean, dtype=float)
    varies = std > MIN_STD
    scale = np.where(varies, std, 1.0)
    parity_z = np.where(varies, -mean / scale, 0.0)  # z of a zero difference
    notes: list[str] = []
    battles = np.bincount(table.model, weight, n_all)
    not_won = np.bincount(table.model, weight * (table.outcome != 1.0), n_all)
    not_lost = np.bincount(table.model, weight * (table.outcome != 0.0), n_all)
    limits = {table.models[m]: float(not_won[m] == 0) for m in range(n_all)
              if battles[m] > 0 and (not_won[m] == 0 or not_lost[m] == 0)}
    if limits:
        notes.append(f"{', '.join(limits)} won or lost every battle: no finite coefficient, the win rate is its "
                     "limit (100% or 0%)" + ("" if frozen or not features else
                                              ", and those battles say nothing about style"))
    fitted = (battles > 0) & (not_won > 0) & (not_lost > 0)
    models = [table.models[m] for m in np.flatnonzero(fitted)]
    # upstream's two rows per battle, y1 = baseline won and y2 = baseline did not lose, summed per group
    wins = weight * ((table.outcome == 0.0).astype(float) + (table.outcome < 1.0))
    groups = np.flatnonzero((in_group > 0) & fitted[table.group_model])
    trials, successes = 2.0 * in_group[groups], np.bincount(table.group, wins, n_groups)[groups]
    column = (np.cumsum(fitted) - 1)[table.group_model[groups]]
    z = np.where(varies, (table.group_diff[groups] - mean) / scale, 0.0)
    theta = np.zeros(n_all + len(features))
    if norm.coefs is not None:
        gamma: list[float | None] = list(norm.coefs)
        g = np.array([c if c is not None else 0.0 for c in gamma])
        coefs = bt.newton(column, z[:, :0], successes, trials, len(models), offset=-np.einsum("gj,j->g", z, g),
                          start=None if start is None else start[:n_all][fitted])
        keep: list[int] = []
    else:
        keep = [j for j in range(len(features)) if varies[j]]
        if len(keep) < len(features):
            notes.append(f"style feature(s) {', '.join(features[j] for j in range(len(features)) if not varies[j])} "
                         "do not vary over these battles: their coefficients cannot be estimated and are left out")
        if not models:
            keep = []
        warm = None if start is None else np.concatenate([start[:n_all][fitted], start[n_all:][keep]])
        coefs = bt.newton(column, z[:, keep], successes, trials, len(models), start=warm)
        t = -LN10 * coefs[:len(models)][column] - np.einsum("gj,j->g", z[:, keep], coefs[len(models):])

        def design() -> tuple[np.ndarray, np.ndarray]:
            """Upstream's rows of the battles fitted (each distinct one once: the test is of signs)."""
            rows = np.flatnonzero((weight > 0) & fitted[table.model])
            x = np.zeros((len(rows), len(models)))
            x[np.arange(len(rows)), (np.cumsum(fitted) - 1)[table.model[rows]]] = -LN10
            x = np.hstack([x, -np.where(varies, (table.diff[rows] - mean) / scale, 0.0)[:, keep]])
            outcome = table.outcome[rows]
            return np.vstack([x, x]), np.concatenate([(outcome == 0.0), (outcome < 1.0)]).astype(float)

        if keep and bt.maybe_separated(int(trials.sum()), float(np.abs(t).max(initial=0.0)), design):
            notes.append("the style features separate the outcomes of these battles (too few, or too one-sided): "
                         "the style coefficients cannot be estimated; the win rate is without style control")
            keep = []
            coefs = bt.newton(column, z[:, :0], successes, trials, len(models))
        gamma = [None] * len(features)
        for k, j in enumerate(keep):
            gamma[j] = float(coefs[len(models) + k])
    betas = {m: float(coefs[i]) for i, m in enumerate(models)}
    theta[:n_all][fitted] = coefs[:len(models)]
    theta[n_all:][keep] = coefs[len(models):]
    shift = sum(c * float(pz) for c, pz in zip(gamma, parity_z) if c is not None)
    controlled = any(c is not None for c in gamma) or not features
    return Fit({**{m: bt.sigmoid(LN10 * b) for m, b in betas.items()}, **limits},
               {**{m: bt.sigmoid(LN10 * b + shift) for m, b in betas.items()}, **limits},
               dict(zip(features, gamma)), Normalisation(norm.mean, norm.std, tuple(gamma)), tuple(notes),
               controlled), theta


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    rounds_without_style: int  # resamples where style control could not be estimated


def bootstrap(battles: Sequence[Battle], style: str = "both", rounds: int = 100, seed: int = 0,
              cluster: bool = False, frozen: Normalisation | None = None) -> dict[str, Interval]:
    """95% intervals of each model's win rate: battles resampled with replacement
    (upstream), or whole prompts with all their battles (`cluster`). Each resample is
    fitted as `fit` does, so one in which a side wins everything gives its limit, never an
    error; how many resamples lost their style control is counted. A resample is a count
    per battle (`BattleTable.resample`) drawn from the same random stream as a resampled list
    would be, and its fit starts from the full set's coefficients."""
    if rounds < MIN_ROUNDS:
        raise UserError(f"--bootstrap-rounds {rounds}: too few for a 95% interval; use at least {MIN_ROUNDS} "
                        "(upstream uses 100)")
    rng = np.random.default_rng(seed)
    features = STYLES[style]
    table = BattleTable.of(battles, features)
    start = _fit(table, table.count, features, frozen)[1]
    samples: dict[str, list[float]] = {}
    without_style = 0
    for _ in range(rounds):
        if cluster:
            weight = table.resample_prompts(rng.choice(table.prompts, table.prompts))
        else:
            weight = table.resample(rng.integers(0, len(table.row), len(table.row)))
        result = _fit(table, weight, features, frozen, start)[0]
        without_style += not result.style_controlled
        for m, r in result.win_rate.items():
            samples.setdefault(m, []).append(r)
    return {m: Interval(float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)), without_style)
            for m, v in samples.items()}


def load_normalisation(path: Path, style: str) -> Normalisation:
    """Frozen style normalisation and coefficients for a fit with `style`: a reference
    run's summary.json (its headline category) or a JSON {"mean", "std", "coefs"}, with one
    value per feature of `style` (a summary fitted with another style is refused: its
    values would be broadcast over the wrong features)."""
    import json

    source_style = None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if "by_category" in data.get("metrics", {}):
            m = data["metrics"]
            source_style = m.get("style")
            data = m["by_category"][m["headline_category"]]["normalisation"]
        norm = Normalisation(tuple(data["mean"]), tuple(data["std"]),
                             tuple(data["coefs"]) if data.get("coefs") is not None else None)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"--freeze-style {path}: not a run summary or a {{mean, std, coefs}} JSON ({err})") from err
    features = STYLES[style]
    sizes = {len(norm.mean), len(norm.std), len(norm.coefs if norm.coefs is not None else features)}
    if (source_style is not None and source_style != style) or sizes != {len(features)}:
        was = f"style {source_style!r}" if source_style else f"{len(norm.mean)} feature(s)"
        raise UserError(f"--freeze-style {path}: fitted with {was}, but this run's --style {style} has "
                        f"{len(features)} ({', '.join(features) or 'none'}); freeze from a run with --style "
                        f"{style}, or run with that run's --style")
    return norm
