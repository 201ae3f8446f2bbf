"""Arena-Hard's fit on the battle sets that used to crash it after every judge call was paid
(issue 17): tiny sets, style features without variation, one side winning everything, a
bootstrap resample that sweeps. Each gives finite numbers or says what cannot be estimated."""

from __future__ import annotations

import math

import pytest

from bolt_eval.arena.bt import separated
from bolt_eval.arena.style_control import MIN_ROUNDS, Battle, Normalisation, bootstrap, fit
from bolt_eval.types import UserError

PLAIN = {"tokens": 100, "headers": 0, "lists": 0, "bold": 0}


def finite(result):
    values = [*result.win_rate.values(), *result.win_rate_parity.values(),
              *(c for c in result.style_coefs.values() if c is not None)]
    return all(math.isfinite(v) for v in values)


def test_a_constant_style_difference_is_left_out_not_divided_by_its_rounding_noise():
    """The candidate always 137 tokens with 3 bold spans against 71 plain ones: every style
    difference is the same number, whose spread is 0 or ~1e-17 of rounding. Before, the
    noise was standardised into +-1 columns and fitted (7 battles: 56.0% instead of the
    mean 4/7); upstream divides by it and asserts."""
    outcomes = [1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    battles = [Battle(f"q{i}", "m", o, {**PLAIN, "tokens": 137, "bold": 3}, {**PLAIN, "tokens": 71})
               for i, o in enumerate(outcomes)]
    result = fit(battles, style="both")
    assert result.win_rate["m"] == pytest.approx(4 / 7, abs=1e-6)  # no style left: the mean outcome
    assert result.style_coefs == {"tokens": None, "headers": None, "lists": None, "bold": None}
    assert "do not vary" in result.notes[0] and finite(result)


def test_a_frozen_normalisation_with_zero_spread_gives_finite_numbers():
    """A reference run whose feature did not vary (std 0, mean 0.3): the parity shift used to
    be -mean/std times a coefficient, math.exp of which overflowed."""
    battles = [Battle(f"q{i}", "m", float(i % 2), {**PLAIN, "tokens": 100 + 40 * i}, PLAIN) for i in range(6)]
    frozen = Normalisation(mean=(0.3,), std=(0.0,), coefs=(1e6,))
    result = fit(battles, style="length", frozen=frozen)
    assert result.win_rate["m"] == pytest.approx(0.5, abs=1e-6) and finite(result)


@pytest.mark.parametrize("outcome", [1.0, 0.0])
def test_one_side_winning_everything_gives_its_limit_and_says_so(outcome):
    battles = [Battle(f"q{i}", "m", outcome, {**PLAIN, "tokens": 100 + 25 * i}, PLAIN) for i in range(5)]
    result = fit(battles, style="both")
    assert result.win_rate["m"] == pytest.approx(outcome, abs=1e-6) and finite(result)
    assert result.style_coefs["tokens"] is None and not result.style_controlled
    assert "won or lost every battle" in result.notes[0]


def test_in_a_joint_fit_a_checkpoint_that_lost_everything_leaves_the_style_fit_to_the_others():
    """arena-fit of two checkpoints, one losing every battle: its rate is 0 (the limit) and the
    other's style-controlled fit is the one it gets alone (the sweep's battles say nothing)."""
    good = [Battle(f"q{i}", "good", o, {**PLAIN, "tokens": t}, PLAIN)
            for i, (o, t) in enumerate([(1.0, 300), (1.0, 250), (0.0, 280), (0.5, 120), (0.0, 100), (1.0, 90)])]
    bad = [Battle(f"q{i}", "bad", 0.0, {**PLAIN, "tokens": 100 + 30 * i}, PLAIN) for i in range(6)]
    together = fit(good + bad, style="length")
    assert together.win_rate["bad"] == 0.0 and together.win_rate_parity["bad"] == 0.0
    assert together.style_coefs["tokens"] is not None and together.style_controlled
    frozen = Normalisation(together.normalisation.mean, together.normalisation.std)  # the same standardisation
    alone = fit(good, style="length", frozen=frozen)
    assert together.win_rate["good"] == pytest.approx(alone.win_rate["good"], abs=1e-6)


def test_style_that_separates_the_outcomes_cannot_be_estimated():
    """The candidate wins exactly when it is longer: the unpenalised fit has no maximum (the
    length coefficient runs off to infinity), so it is not reported; the rate is the mean."""
    battles = [Battle(f"q{i}", "m", float(i % 2), {**PLAIN, "tokens": 100 + 50 * (i % 2)}, PLAIN) for i in range(6)]
    result = fit(battles, style="length")
    assert result.style_coefs == {"tokens": None} and not result.style_controlled
    assert result.win_rate["m"] == pytest.approx(0.5, abs=1e-6) and "separate the outcomes" in result.notes[0]


def test_separation_check_against_hand_made_designs():
    import numpy as np

    x = np.array([[1.0], [2.0], [-1.0], [-2.0]])
    assert separated(x, np.array([1.0, 1.0, 0.0, 0.0]))  # the sign of x decides every outcome
    assert not separated(x, np.array([1.0, 0.0, 0.0, 1.0]))  # each sign holds both outcomes
    assert separated(np.array([[1.0], [1.0], [0.0]]), np.array([1.0, 1.0, 0.0]))  # quasi-complete: x = 0 ties
    assert not separated(np.zeros((3, 0)), np.array([1.0, 0.0, 1.0]))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_battle_sets(n):
    battles = [Battle(f"q{i}", "m", [1.0, 0.0, 0.5][i], {**PLAIN, "tokens": 90 + 20 * i, "lists": i}, PLAIN)
               for i in range(n)]
    result = fit(battles, style="both")
    assert finite(result)
    assert result.win_rate["m"] == pytest.approx(sum(b.outcome for b in battles) / n, abs=1e-6)
    ci = bootstrap(battles, style="both", rounds=MIN_ROUNDS)["m"]
    assert 0.0 <= ci.lo <= ci.hi <= 1.0


def test_a_bootstrap_whose_resamples_sweep_counts_them():
    """One loss among five wins: a resample without the loss is a clean sweep. Before, such
    a resample could raise OverflowError; now it gives its limit and is counted."""
    battles = [Battle(f"w{i}", "m", 1.0, {**PLAIN, "tokens": 100 + i}, PLAIN) for i in range(5)]
    battles.append(Battle("l", "m", 0.0, {**PLAIN, "tokens": 300}, PLAIN))
    ci = bootstrap(battles, style="length", rounds=40, seed=1)["m"]
    assert ci.hi == pytest.approx(1.0, abs=1e-6) and 0.0 <= ci.lo < ci.hi
    assert ci.rounds_without_style == 40  # length separates the loss in every resample that has it


def test_too_few_bootstrap_rounds_are_refused():
    battles = [Battle("q", "m", 1.0, PLAIN, PLAIN), Battle("r", "m", 0.0, PLAIN, PLAIN)]
    with pytest.raises(UserError, match=f"too few for a 95% interval; use at least {MIN_ROUNDS}"):
        bootstrap(battles, style="none", rounds=3)
