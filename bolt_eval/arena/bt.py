"""The logistic (Bradley-Terry) likelihood behind Arena-Hard's style-controlled fit, solved
so that every battle set gives an answer.

arena-hard-auto (utils/math_utils.py, `bt` loss) maximises the unpenalised likelihood with
50 L-BFGS steps in torch; when one side wins everything, or the style features predict
every outcome (easy with a handful of prompts), that likelihood has no finite maximum and
the answer is wherever the optimiser stopped. Here:

- `logistic` maximises the likelihood plus a 1e-8 ridge, so the coefficients stay finite
  and every estimable quantity is the MLE to ~1e-8;
- `separated` says exactly when the maximum does not exist: the linear program of Konis
  (2007, "Linear programming algorithms for detecting separated data in binary logistic
  regression models"; as R's `detectseparation`): is there a direction w != 0 with
  (2y - 1) x.w >= 0 for every row? Callers then report what cannot be estimated instead of
  a number the optimiser made up.
"""

from __future__ import annotations

import numpy as np

RIDGE = 1e-8
SMALL = 400  # rows (two per battle) up to which separation is always checked
GATE = 10.0  # |linear predictor| beyond which a larger set is checked (probability 1 - 4.5e-5)


def logistic(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """argmax_w sum(y t - log(1 + e^t)) - RIDGE |w|^2 / 2, t = X w + offset; no intercept.
    scikit-learn's Newton-Cholesky solver (n >> p, as here: ~25 ms for 2700 battles);
    with an offset (frozen style coefficients), which scikit-learn lacks, scipy's L-BFGS-B."""
    if offset is None:
        from sklearn.linear_model import LogisticRegression

        if len(set(y)) < 2:  # scikit-learn refuses one class; the ridge optimum is then found below
            return logistic(X, y, np.zeros(len(y)))
        model = LogisticRegression(C=1.0 / RIDGE, fit_intercept=False, solver="newton-cholesky", tol=1e-10,
                                   max_iter=1000)
        return model.fit(X, y).coef_[0]
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        t = X @ w + offset
        p = np.exp(-np.logaddexp(0.0, -t))  # sigmoid without overflow
        nll = float(np.sum(np.logaddexp(0.0, t) - y * t) + 0.5 * RIDGE * w @ w)
        return nll, X.T @ (p - y) + RIDGE * w

    result = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-10})
    return result.x


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


def maybe_separated(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> bool:
    """`separated`, asked only where it can be: always for up to SMALL rows (a handful of
    prompts, where separation is common and the program costs milliseconds), and for more
    only when the ridge fit `w` puts some row beyond |t| > GATE, the mark a divergent
    coefficient leaves (the program costs ~0.1 s per 1000 battles, too much for every
    bootstrap resample of a large set)."""
    if len(y) > SMALL and np.abs(X @ w).max() <= GATE:
        return False
    return separated(X, y)


def sigmoid(t: float) -> float:
    """1 / (1 + e^-t) for any finite t (math.exp overflows past |t| ~ 709)."""
    return float(np.exp(-np.logaddexp(0.0, -t)))
