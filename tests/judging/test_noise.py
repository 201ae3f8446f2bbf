"""The judge-noise statistics on their own (numpy only, no runs): the two-level bootstrap
against an enumerated case, its identity with the item-only bootstraps when the repeats
agree, the judge's variability figures, and a simulation where the judge's noise is known."""

from __future__ import annotations

import argparse
import itertools
import math

import numpy as np
import pytest

from bolt_eval import stats
from bolt_eval.arena import style_control
from bolt_eval.judging import noise
from bolt_eval.noise_bootstrap import (pick, two_level_arena, two_level_macro, two_level_paired, two_level_ratio,
                                       variant_records)
from bolt_eval.types import UserError
from bolt_eval.wildbench import scoring


def test_enumerated_two_level_distribution():
    """Items A (variants 0 and 1: grades 0 and 1) and B (one verdict, 0). A round draws two
    items, each drawn A a variant of its own: the mean is 1 with probability (1/4)^2, 1/2
    with 2 (1/4)(3/4), else 0. Enumerated, then compared with 200k rounds."""
    values = np.array([[0.0, 0.0], [1.0, np.nan]])
    weights = np.array([[1.0, 1.0], [1.0, 0.0]])
    valid = np.array([[True, True], [True, False]])
    exact: dict[float, float] = {}
    for draws in itertools.product([("A", 0), ("A", 1), ("B", 0)], repeat=2):
        p = math.prod(0.25 if item == "A" else 0.5 for item, _ in draws)
        mean = sum(v if item == "A" else 0.0 for item, v in draws) / 2
        exact[mean] = exact.get(mean, 0.0) + p
    assert exact == {0.0: 9 / 16, 0.5: 6 / 16, 1.0: 1 / 16}
    rounds = 200_000
    idx = np.random.default_rng(0).integers(0, 2, size=(rounds, 2))
    v = pick(valid, idx, np.random.default_rng([0, 1]))
    means = (np.nan_to_num(values) * weights)[v, idx].sum(axis=1) / 2
    for m, p in exact.items():
        assert np.mean(means == m) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / rounds))
    # the variance of the two-level mean in closed form: Var(one draw) / n = (3/16) / 2
    assert means.var() == pytest.approx(3 / 32, rel=0.02)
    est = two_level_ratio(values, weights, valid, rounds=4000)
    # percentiles 0 and 1 (P(1) = 6.25% > 2.5%), moved by the headline (first verdicts: 0)
    # minus the mean of all verdicts (A weighs its variants equally: (0.5 + 0) / 2 = 0.25)
    assert (est.mean, est.lo, est.hi, est.n) == (0.0, -0.25, 0.75, 2)
    item_only = two_level_ratio(values[:1], weights[:1], valid[:1], rounds=4000)
    assert (item_only.lo, item_only.hi) == (0.0, 0.0)  # the first verdicts alone: no spread at all


def _agreeing(values: np.ndarray, depth: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every item's repeats repeat its first verdict; a third of the items have repeats."""
    stacked = np.repeat(values[None], depth, axis=0)
    valid = np.zeros(stacked.shape, dtype=bool)
    valid[0] = True
    valid[1:, ::3] = True
    return stacked, valid


def test_agreeing_repeats_give_back_the_item_only_intervals():
    rng = np.random.default_rng(5)
    grades = rng.integers(1, 11, size=(40, 2)).astype(float)
    num, den = grades.sum(axis=1), np.full(40, 2.0)
    values, valid = _agreeing(num / den)
    est = two_level_ratio(values, np.repeat(den[None], 3, axis=0), valid)
    assert est.to_dict() == stats.bootstrap_ratio(num, den).to_dict()
    assert est.to_dict() == stats.clustered_mean(list(grades.ravel()), list(np.repeat(np.arange(40), 2))).to_dict()

    base, cand = rng.normal(5, 1, 40), rng.normal(5.5, 1, 40)
    w = np.ones((3, 40))
    paired = two_level_paired((*_agreeing(base),)[:1] + (w, _agreeing(base)[1]),
                              (*_agreeing(cand),)[:1] + (w, _agreeing(cand)[1]))
    assert paired.to_dict() == stats.paired_delta((base, np.ones(40)), (cand, np.ones(40))).to_dict()

    groups = [scoring.GROUPS[i % 5:i % 5 + 1 + i % 2] for i in range(40)]
    wb = rng.normal(20, 15, 40)
    macro = two_level_macro(*_agreeing(wb), groups)
    ref = scoring.Resampled(wb, groups)
    assert macro.to_dict() == ref.estimate(lambda i: ref.macros(i)[:, 0]).to_dict()


def _battles(outcomes: list[list[float]], model: str = "cand|hard_prompt") -> list[list[style_control.Battle]]:
    style = {"tokens": 100, "headers": 0, "lists": 0, "bold": 0}
    return [[style_control.Battle(f"p{p}", model, o, {**style, "tokens": 100 + 7 * p + 3 * k}, style)
             for k, o in enumerate(out)] for p, out in enumerate(outcomes)]


def test_arena_agreeing_repeats_are_the_battle_bootstrap():
    rng = np.random.default_rng(1)
    prompts = _battles([[float(x) for x in rng.integers(0, 2, 2)] for _ in range(30)])
    flat = [b for bs in prompts for b in bs]
    per_prompt = [[bs, bs] for bs in prompts]
    valid = np.ones((2, 30), dtype=bool)
    for cluster in (False, True):
        lo, hi = two_level_arena(per_prompt, valid, "length", rounds=20, cluster=cluster)
        ref = style_control.bootstrap(flat, "length", rounds=20, cluster=cluster)["cand|hard_prompt"]
        assert (lo, hi) == pytest.approx((ref.lo, ref.hi), abs=1e-6)  # the same draws, fits to ~1e-8


def test_arena_repeats_that_disagree_widen_the_prompt_bootstrap():
    """Every prompt first judged a split (one battle each way): resampling prompts sees no
    spread at all. The repeats disagree (two strong wins for even prompts, two strong losses
    for odd ones): the two-level interval opens around the same estimate."""
    first = [[1.0, 0.0]] * 40
    again = [[1.0] * 6 if i % 2 == 0 else [0.0] * 6 for i in range(40)]
    per_prompt = [list(v) for v in zip(_battles(first), _battles(again))]
    lo0, hi0 = two_level_arena([[p[0]] for p in per_prompt], np.ones((1, 40), dtype=bool), "none", 100, cluster=True)
    lo, hi = two_level_arena(per_prompt, np.ones((2, 40), dtype=bool), "none", 100, cluster=True)
    assert (lo0, hi0) == pytest.approx((0.5, 0.5))
    assert lo < 0.4 and hi > 0.6
    with pytest.raises(UserError, match="bootstrap-rounds"):
        two_level_arena(per_prompt, np.ones((2, 40), dtype=bool), rounds=5)


def _record(rid: str, grades: list[list[float]]) -> dict:
    """One output, one judgment per row of `grades`: first verdict, then repeats."""
    judgments = {}
    for k, g in enumerate(grades):
        j = {"key": f"{rid}{k}", "status": "ok", "verdict": g[0]}
        if len(g) > 1:
            j["repeats"] = [{"key": f"{rid}{k}r{r}", "status": "ok", "verdict": x} for r, x in enumerate(g[1:])]
        judgments[f"turn{k + 1}"] = j
    return {"id": rid, "outputs": [{"judgments": judgments}]}


def test_variability_figures_by_hand():
    records = [_record("a", [[8, 8, 8], [6, 7, 8]]), _record("b", [[5]])]
    v = noise.variability(records)["graded"]
    # judgment 1: no spread, all pairs agree; judgment 2: variance 1, no pair agrees
    assert v["judgments"] == 2 and v["verdicts"] == 6
    assert v["sd"] == pytest.approx(math.sqrt(2 / 4))  # pooled: (0 + 2) / (2 + 2)
    assert v["agreement"] == 0.5 and v["all_agree"] == 0.5
    assert v["mean_abs_diff"] == pytest.approx((0 + 0 + 0 + 1 + 2 + 1) / 6)
    # Fleiss: P-bar 1/2; categories 8 x4, 6, 7 -> chance (16 + 1 + 1) / 36
    chance = 18 / 36
    assert v["fleiss_kappa"] == pytest.approx((0.5 - chance) / (1 - chance))
    labels = {"id": "c", "outputs": [{"judgments": {"game1": {"status": "ok", "verdict": "A>B", "repeats": [
        {"status": "ok", "verdict": "A>B"}, {"status": "parse_error", "verdict": None}]}}}]}
    assert noise.variability([labels])["pairwise"] == {"judgments": 1, "verdicts": 2, "agreement": 1.0,
                                                       "all_agree": 1.0, "fleiss_kappa": None}


def test_variants_keep_only_repeats_with_the_original_statuses():
    r = _record("a", [[8, 9, 7], [6, 5, 4]])
    r["outputs"][0]["judgments"]["turn2"]["repeats"][1] = {"status": "parse_error", "verdict": None}
    variants, valid = variant_records([r, _record("b", [[5]])])
    assert valid.tolist() == [[True, True], [True, False], [False, False]]
    assert variants[1][0]["outputs"][0]["judgments"]["turn1"]["verdict"] == 9
    assert variants[1][0]["outputs"][0]["judgments"]["turn2"]["verdict"] == 5


def test_selection_is_seeded_nested_and_independent_of_k():
    ids = [str(i) for i in range(50)]
    tenth, fifth = noise.chosen(ids, 0.1), noise.chosen(ids, 0.2)
    assert len(tenth) == 5 and len(fifth) == 10 and tenth < fifth
    assert noise.chosen(list(reversed(ids)), 0.1) == tenth and noise.chosen(ids, 0.1, seed=1) != tenth
    assert len(noise.chosen(ids[:3], 0.1)) == 1  # any share > 0 repeats at least one item


def test_flags():
    def args(**kw):
        return argparse.Namespace(**{"judge_repeats": None, "judge_repeat_share": None, **kw})

    assert noise.from_args(args()) is None
    assert noise.from_args(args(judge_repeats=3)) == noise.NoiseSpec(3, 0.1)
    for bad, match in (({"judge_repeats": 0}, "at least 1"), ({"judge_repeats": 2, "judge_repeat_share": 1.5},
                       r"\(0, 1\]"), ({"judge_repeat_share": 0.5}, "needs --judge-repeats"),
                      ({"judge_repeats": 2, "judge_mode": "batch"}, "judge-mode live")):
        with pytest.raises(UserError, match=match):
            noise.from_args(args(**bad))


def test_known_judge_noise_is_recovered_and_covered():
    """A population of questions (true mean grade 6, spread 1.5 between items), a judge whose
    grade is the truth plus noise of SD 1. Over many seeds: the pooled within-judgment SD
    recovers 1, and the two-level 95% interval covers the population mean about 95% of the
    time, as the item-only interval does (both hold the judge's variance; see noise_bootstrap)."""
    n, k, sigma, seeds = 60, 3, 1.0, 300
    covered, covered_items, sds, ratios = 0, 0, [], []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        truth = rng.normal(6.0, 1.5, n)
        verdicts = truth[:, None] + rng.normal(0, sigma, (n, k + 1))
        repeated = np.arange(n) < n // 2  # half the items asked again
        values, weights = verdicts.T.copy(), np.ones((k + 1, n))
        valid = np.zeros((k + 1, n), dtype=bool)
        valid[0], valid[1:, repeated] = True, True
        est = two_level_ratio(values, weights, valid, rounds=400, seed=seed)
        item = stats.bootstrap_ratio(values[0], weights[0], rounds=400, seed=seed)
        covered += est.lo <= 6.0 <= est.hi
        covered_items += item.lo <= 6.0 <= item.hi
        ratios.append((est.hi - est.lo) / (item.hi - item.lo))
        groups = verdicts[repeated]
        sds.append(math.sqrt(((groups - groups.mean(axis=1, keepdims=True)) ** 2).sum() / (len(groups) * k)))
    assert np.mean(sds) == pytest.approx(sigma, rel=0.03)
    assert 0.91 <= covered / seeds <= 0.98 and 0.91 <= covered_items / seeds <= 0.98
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.05)
