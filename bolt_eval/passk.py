"""Oracle pass@k from N samples per problem, for the exactly-scored tasks.

The unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models Trained on
Code", arXiv 2107.03374, eq. 1 and its numerically stable form in Figure 3): with n samples
of a problem of which c are correct,

    pass@k = 1 - C(n - c, k) / C(n, k)

the chance that k samples drawn without replacement from the n hold a correct one, averaged
over problems (here with a bootstrap CI over problems). "Oracle": a sample counts when the
task's exact scorer says it is right, as if a perfect verifier picked among the k; it is the
ceiling of Best-of-k with any reward model on the same samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bolt_eval import stats

# task -> the field of a trajectory's score that says "right" (MATH500: the answer is
# equivalent; ZebraLogic: the whole puzzle is solved)
CORRECT = {"math500": "correct", "zebralogic": "solved"}
ESTIMATOR = "unbiased pass@k of Chen et al. 2021 (arXiv 2107.03374, eq. 1) from the n samples of each problem"


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed as a product (no huge binomials)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ks(n: int) -> list[int]:
    """k = 1, 2, 4, ... up to n, and n itself."""
    out = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return out if out[-1] == n else out + [n]


def oracle_pass_at_k(task: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """pass@k for k in `ks(n)` over `records` (every output of each), or None for a task
    that is not scored exactly. Every record must hold the same number of outputs."""
    field = CORRECT.get(task)
    if field is None or not records:
        return None
    sizes = {len(r["outputs"]) for r in records}
    if len(sizes) != 1:
        raise ValueError(f"pass@k needs the same number of samples per problem, got {sorted(sizes)}")
    n = sizes.pop()
    correct = [sum(bool(o["score"][field]) for o in r["outputs"]) for r in records]
    return {"n": n, "correct_field": field, "estimator": ESTIMATOR,
            "k": {str(k): stats.bootstrap_mean([pass_at_k(n, c, k) for c in correct]).to_dict() for k in ks(n)}}
