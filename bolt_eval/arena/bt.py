"""The logistic (Bradley-Terry) likelihood behind Arena-Hard's style-controlled fit, solved
so that every battle set gives an answer, and fast enough to refit every bootstrap resample.

arena-hard-auto (utils/math_utils.py, `bt` loss) maximises the unpenalised likelihood with
50 L-BFGS steps in torch; when one side wins everything, or the style features predict
every outcome (easy with a handful of prompts), that likelihood has no finite maximum and
the answer is wherever the optimiser stopped. Here:

- `newton` maximises the likelihood plus a 1e-8 ridge, so the coefficients stay finite and
  every estimable quantity is the MLE to ~1e-8. Each battle is one weighted row (a resample
  is a count per battle, not a copy of it), and the Hessian is assembled from the design's
  structure: one model column per row (a diagonal block) plus a few style columns, so an
  iteration costs O(battles x style features) where a dense solver such as scikit-learn's
  Newton-Cholesky (which this replaced, to the same optimum) pays O(battles x columns^2).
- `separated` says exactly when the maximum does not exist: the linear program of Konis
  (2007, "Linear programming algorithms for detecting separated data in binary logistic
  regression models"; as R's `detectseparation`): is there a direction w != 0 with
  (2y - 1) x.w >= 0 for every row? Callers then report what cannot be estimated instead of
  a number the optimiser made up.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

RIDGE = 1e-8
SMALL = 400  # rows (two per battle) up to which separation is always checked
GATE = 10.0  # |linear predictor| beyond which a larger set is checked (probability 1 - 4.5e-5)
LN10 = math.log(10)
STEP_TOL = 1e-7  # Newton stops after a step that moved no coefficient more than this: converging
# quadratically, it is then within ~1e-14 of the optimum (one more step would only confirm it)
MAX_ITER = 500  # a separated set walks its coefficients out slowly (the ridge stops them)


def newton(column: np.ndarray, z: np.ndarray, successes: np.ndarray, trials: np.ndarray, n_models: int,
           offset: np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
    """argmax over theta = (beta, gamma) of
    sum_i successes_i t_i - trials_i log(1 + e^t_i) - RIDGE |theta|^2 / 2,
    t_i = offset_i - ln10 beta[column_i] - z_i . gamma: a binomial logistic regression.

    In upstream's layout (the baseline as model_a with coefficient 0, the candidate as
    model_b, the style columns model_a minus model_b = -z) a battle is two rows, y1 =
    baseline won and y2 = baseline did not lose (a tie is one win for each side); here all
    the rows with one predictor are one group, `trials` of them with `successes` ones.
    Damped Newton (halving the step until the objective does not rise) from `start` (zeros
    by default), until a step moves no coefficient more than STEP_TOL. Vector products are einsum
    loops, not BLAS: on a busy 2-core machine OpenBLAS's threads made each 1-D dot ~100x
    slower than the loop (measured, bench case 5)."""
    k = z.shape[1]
    theta = np.zeros(n_models + k) if start is None else np.array(start, dtype=float)
    if not theta.size:
        return theta
    zt = np.ascontiguousarray(z.T)  # one contiguous row per style feature
    base = np.zeros(len(column)) if offset is None else offset

    def evaluate(th: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        t = base - LN10 * th[:n_models][column]
        for j in range(k):
            t -= th[n_models + j] * zt[j]
        e = np.exp(-np.abs(t))
        softplus = np.maximum(t, 0.0) + np.log1p(e)
        value = np.einsum("i,i", trials, softplus) - np.einsum("i,i", successes, t) + 0.5 * RIDGE * np.einsum("i,i", th, th)
        return t, e, float(value)

    t, e, value = evaluate(theta)
    for _ in range(MAX_ITER):
        p = np.where(t >= 0.0, 1.0, e) / (1.0 + e)  # sigmoid(t)
        r = trials * p - successes  # d objective / d t
        h = trials * p * (1.0 - p)  # d2 objective / d t2
        hz = [h * zt[j] for j in range(k)]
        grad = np.concatenate([-LN10 * np.bincount(column, r, n_models),
                               [-np.einsum("i,i", zt[j], r) for j in range(k)]]) + RIDGE * theta
        hess = np.zeros((n_models + k, n_models + k))
        hess[np.arange(n_models), np.arange(n_models)] = LN10**2 * np.bincount(column, h, n_models)
        for j in range(k):
            hess[:n_models, n_models + j] = hess[n_models + j, :n_models] = LN10 * np.bincount(column, hz[j], n_models)
            for m in range(j + 1):
                hess[n_models + j, n_models + m] = hess[n_models + m, n_models + j] = np.einsum("i,i", hz[j], zt[m])
        hess[np.diag_indices_from(hess)] += RIDGE
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while True:
            trial = theta - scale * step
            t_trial, e_trial, trial_value = evaluate(trial)
            if trial_value <= value + 1e-13 * abs(value) or scale < 1e-10:
                break
            scale /= 2
        theta, t, e, value = trial, t_trial, e_trial, trial_value
        if np.abs(scale * step).max() <= STEP_TOL:
            break
    return theta


def separated(X: np.ndarray, y: np.ndarray) -> bool:
    """True when some direction w != 0 orders every row as its outcome does ((2y - 1) x.w >= 0,
    strictly for at least one row): the unpenalised MLE then does not exist (complete or
    quasi-complete separation). Found by maximising sum((2y - 1) x.w) over |w_j| <= 1."""
    from scipy.optimize import linprog

    if X.shape[1] == 0:
        return False
    signed = np.unique(np.round(X * (2.0 * y - 1.0)[:, None], 12), axis=0)
    result = linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(signed)),
                     bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")
    return bool(result.status == 0 and -result.fun > 1e-7)


def maybe_separated(rows: int, largest_predictor: float,
                    design: Callable[[], tuple[np.ndarray, np.ndarray]]) -> bool:
    """`separated` on `design()` (X, y), asked only where it can be: always for up to SMALL
    rows (a handful of prompts, where separation is common and the program costs
    milliseconds), and for more only when the ridge fit puts some row beyond |t| > GATE
    (`largest_predictor`), the mark a divergent coefficient leaves (the program costs ~0.1 s
    per 1000 battles, too much for every bootstrap resample of a large set)."""
    if rows > SMALL and largest_predictor <= GATE:
        return False
    return separated(*design())


def sigmoid(t: float) -> float:
    """1 / (1 + e^-t) for any finite t (math.exp overflows past |t| ~ 709)."""
    return float(np.exp(-np.logaddexp(0.0, -t)))
