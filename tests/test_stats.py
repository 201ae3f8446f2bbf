import numpy as np

from bolt_eval.stats import bootstrap_mean, grouped


def test_bootstrap_mean_and_interval():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    est = bootstrap_mean(values, rounds=2000, seed=0)
    assert est.mean == 0.7 and est.n == 10
    assert 0.3 <= est.lo < 0.7 < est.hi <= 1.0
    # the interval matches a direct percentile bootstrap with the same generator
    rng = np.random.default_rng(0)
    means = np.asarray(values, float)[rng.integers(0, 10, size=(2000, 10))].mean(axis=1)
    assert (est.lo, est.hi) == tuple(np.quantile(means, [0.025, 0.975]))


def test_constant_values_have_zero_width_and_seed_reproduces():
    assert bootstrap_mean([0.5] * 7).to_dict() == {"mean": 0.5, "lo": 0.5, "hi": 0.5, "n": 7}
    assert bootstrap_mean([0, 1, 1], seed=3) == bootstrap_mean([0, 1, 1], seed=3)


def test_grouped_by_key():
    est = grouped([1, 0, 1, 1], ["a", "b", "a", "b"])
    assert {k: (e.mean, e.n) for k, e in est.items()} == {"a": (1.0, 2), "b": (0.5, 2)}
