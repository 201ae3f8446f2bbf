"""Arena-Hard scoring: battles, style features and a Bradley-Terry fit with style control.

Follows arena-hard-auto (show_result.py, utils/math_utils.py, utils/add_markdown_info.py):

- A judged prompt gives two games (baseline as A, then candidate as A). Each game with a
  verdict is one battle of candidate vs baseline, repeated `weight` (3) times for a strong
  verdict ("A>>B"/"B>>A"); a tie is a tie.
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

STYLES = {"both": ("tokens", "headers", "lists", "bold"), "length": ("tokens",),
          "markdown": ("headers", "lists", "bold"), "none": ()}
_CODE = re.compile(r"```([^`]*)```")
_HEADER = re.compile(r"^#{1,6}\s", re.M)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.M)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.M)
_BOLD = (re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__"))
LN10 = math.log(10)


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
    """Game 1 has the baseline as A, game 2 the candidate as A; a game without a verdict
    gives no battle (the caller counts it in coverage)."""
    out = []
    for label, candidate_is_a in ((game1, False), (game2, True)):
        if label is None:
            continue
        a_score = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}[label]
        outcome = a_score if candidate_is_a else 1.0 - a_score
        out += [Battle(prompt, model, outcome, candidate_style, baseline_style)] * (weight if ">>" in label else 1)
    return out


@dataclass(frozen=True)
class Normalisation:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coefs: tuple[float, ...] | None = None  # frozen style coefficients, or None to fit them


@dataclass(frozen=True)
class Fit:
    win_rate: dict[str, float]  # upstream's style-controlled win rate (model terms only), per model
    win_rate_parity: dict[str, float]  # the same model at zero style difference to the baseline
    style_coefs: dict[str, float]  # > 0: more of the feature wins more often
    normalisation: Normalisation


def style_matrix(battles: Sequence[Battle], features: Sequence[str]) -> np.ndarray:
    """(battles x features), candidate vs baseline, as upstream's current show_result.py:
    length (a - b) / (a + b); a markdown count as a density (count / tokens), then
    (da - db) / (da + db + 1)."""
    if not features:
        return np.zeros((len(battles), 0))
    a = np.array([[b.candidate_style[f] for f in ("tokens", *features)] for b in battles], dtype=float)
    b = np.array([[b.baseline_style[f] for f in ("tokens", *features)] for b in battles], dtype=float)
    out = []
    for j, f in enumerate(features, start=1):
        if f == "tokens":
            out.append((a[:, 0] - b[:, 0]) / np.maximum(a[:, 0] + b[:, 0], 1.0))
        else:
            da, db = a[:, j] / np.maximum(a[:, 0], 1.0), b[:, j] / np.maximum(b[:, 0], 1.0)
            out.append((da - db) / (da + db + 1.0))
    return np.stack(out, axis=1)


def fit(battles: Sequence[Battle], style: str = "both", frozen: Normalisation | None = None) -> Fit:
    """Bradley-Terry with style control over all models in `battles` against one baseline,
    fitted together. With frozen style coefficients each model is fitted on its own
    battles, so adding a checkpoint cannot move another one's score."""
    features = STYLES[style]
    diff = style_matrix(battles, features)
    if frozen is None:
        norm = Normalisation(tuple(diff.mean(axis=0)), tuple(diff.std(axis=0)))
    else:
        norm = frozen
    std = np.array(norm.std)
    z = (diff - np.array(norm.mean)) / np.where(std > 0, std, 1.0)
    parity_z = -np.array(norm.mean) / np.where(std > 0, std, 1.0)  # z of a zero difference
    models = sorted({b.model for b in battles})
    betas: dict[str, tuple[float, float]] = {}  # model -> (beta_model, beta_baseline)
    if norm.coefs is not None:
        gamma = tuple(norm.coefs)
        for m in models:
            rows = [i for i, b in enumerate(battles) if b.model == m]
            beta = _bt([battles[i] for i in rows], z[rows], [m], np.array(gamma))
            betas[m] = (beta[0], beta[1])
    else:
        coef = _bt(battles, z, models, None)
        gamma = tuple(float(g) for g in coef[len(models) + 1:])
        betas = {m: (coef[i], coef[len(models)]) for i, m in enumerate(models)}  # baseline after the models
    shift = float(np.array(gamma) @ parity_z) if gamma else 0.0
    return Fit({m: _sigmoid(LN10 * (bm - bb)) for m, (bm, bb) in betas.items()},
               {m: _sigmoid(LN10 * (bm - bb) + shift) for m, (bm, bb) in betas.items()},
               dict(zip(features, gamma)), Normalisation(norm.mean, norm.std, gamma))


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _bt(battles: Sequence[Battle], z: np.ndarray, models: list[str], gamma: np.ndarray | None) -> np.ndarray:
    """Coefficients [models..., baseline, style...] (or without style when `gamma` is fixed).
    Upstream's layout: baseline as model_a (+ln 10), candidate as model_b (-ln 10), y = 1
    when model_a wins, style columns model_a minus model_b; every battle twice, a tie as
    one win for each side; no penalty, no intercept."""
    from sklearn.linear_model import LogisticRegression

    index = {m: i for i, m in enumerate(models)}
    n, p = len(battles), len(models) + 1
    x = np.zeros((n, p))
    x[np.arange(n), p - 1] = LN10
    x[np.arange(n), [index[b.model] for b in battles]] = -LN10
    outcome = np.array([b.outcome for b in battles])
    y = np.concatenate([(outcome == 0.0).astype(float), (outcome < 1.0).astype(float)])
    if gamma is not None:
        X = np.vstack([x, x])
        offset = np.concatenate([-z @ gamma] * 2) if len(gamma) else np.zeros(2 * n)
        return _fit_with_offset(X, y, offset)
    X = np.vstack([np.hstack([x, -z])] * 2)
    if len(set(y)) < 2:  # one side won every battle: scikit-learn refuses one class
        return _fit_with_offset(X, y, np.zeros(2 * n))
    return LogisticRegression(fit_intercept=False, C=np.inf, max_iter=1000).fit(X, y).coef_[0]


def _fit_with_offset(X: np.ndarray, y: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The same unpenalised logistic likelihood with a fixed offset (frozen style
    coefficients), by scipy's L-BFGS; a 1e-6 ridge keeps a clean sweep finite."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        t = X @ w + offset
        p = 1.0 / (1.0 + np.exp(-t))
        nll = np.sum(np.logaddexp(0, t) - y * t) + 0.5e-6 * w @ w
        return nll, X.T @ (p - y) + 1e-6 * w

    return minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def bootstrap(battles: Sequence[Battle], style: str = "both", rounds: int = 100, seed: int = 0,
              cluster: bool = False, frozen: Normalisation | None = None) -> dict[str, tuple[float, float]]:
    """95% intervals of each model's win rate: battles resampled with replacement
    (upstream), or whole prompts with all their battles (`cluster`)."""
    rng = np.random.default_rng(seed)
    battles = list(battles)
    if cluster:
        groups: dict[str, list[int]] = {}
        for i, b in enumerate(battles):
            groups.setdefault(b.prompt, []).append(i)
        keys = list(groups)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        if cluster:
            picked = [i for k in rng.choice(len(keys), len(keys)) for i in groups[keys[k]]]
        else:
            picked = list(rng.integers(0, len(battles), len(battles)))
        result = fit([battles[i] for i in picked], style, frozen)
        for m, r in result.win_rate.items():
            samples.setdefault(m, []).append(r)
    return {m: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for m, v in samples.items()}


def token_counter(spec: str) -> Callable[[str], int]:
    """The tokenizer of the length feature, one for candidate and baseline alike:
    `tiktoken:ENCODING` (upstream's: o200k_base, gpt-4o's), `hf:NAME_OR_PATH` (a transformers
    tokenizer), `default` (the embedded default model's) or `words` (whitespace split)."""
    from bolt_eval.types import UserError

    kind, _, name = spec.partition(":")
    try:
        if kind == "tiktoken":
            import tiktoken

            enc = tiktoken.get_encoding(name or "o200k_base")
            return lambda text: len(enc.encode(text, disallowed_special=()))
        if kind in ("hf", "default"):
            from transformers import AutoTokenizer

            from bolt_eval.models import default_model_dir

            tok = AutoTokenizer.from_pretrained(str(default_model_dir()) if kind == "default" else name)
            return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    except Exception as err:  # noqa: BLE001 - any failure to load is the user's to fix
        raise UserError(f"--style-tokenizer {spec}: cannot load it ({type(err).__name__}: {err}). Offline, "
                        "use 'default' (the embedded model's tokenizer), 'hf:/path/to/tokenizer' or 'words'") from err
    if kind == "words":
        return lambda text: len(text.split())
    raise UserError(f"--style-tokenizer {spec}: write tiktoken:ENCODING, hf:NAME_OR_PATH, default or words")


def load_normalisation(path: Path) -> Normalisation:
    """Frozen style normalisation and coefficients: a reference run's summary.json (its
    headline category) or a JSON {"mean", "std", "coefs"}."""
    import json

    from bolt_eval.types import UserError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if "by_category" in data.get("metrics", {}):
            m = data["metrics"]
            data = m["by_category"][m["headline_category"]]["normalisation"]
        return Normalisation(tuple(data["mean"]), tuple(data["std"]),
                             tuple(data["coefs"]) if data.get("coefs") is not None else None)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"--freeze-style {path}: not a run summary or a {{mean, std, coefs}} JSON ({err})") from err
