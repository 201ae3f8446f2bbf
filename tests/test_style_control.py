"""Arena-Hard scoring against hand-computed cases and an independent small implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from bolt_eval.arena.style_control import Battle, battles_from_games, bootstrap, fit, style_features

PLAIN = {"tokens": 100, "headers": 0, "lists": 0, "bold": 0}


def words(text):
    return len(text.split())


def test_style_features_ignore_fenced_code():
    answer = ("# Title\n## Part\nSome **bold** and __also__ text.\n1. one\n2. two\n- dash\n* star\n"
              "```\n# not a header\n- not a list\n**not bold**\n```\n")
    assert style_features(answer, words) == {"tokens": len(answer.split()), "headers": 2, "lists": 4, "bold": 2}


def test_battles_weights_and_orders():
    # game 1: baseline is A; game 2: candidate is A
    got = battles_from_games("q", "m", "B>>A", "A>B", PLAIN, PLAIN)
    assert [b.outcome for b in got] == [1.0, 1.0, 1.0, 1.0]  # strong win x3, then a win
    assert [b.outcome for b in battles_from_games("q", "m", "A=B", "B>>A", PLAIN, PLAIN)] == [0.5, 0.0, 0.0, 0.0]
    # a prompt whose other game has no verdict gives no battle: upstream's load_judgments
    # (show_result.py at 196f6b8) drops the prompt when either game's score is None
    assert battles_from_games("q", "m", None, "A=B", PLAIN, PLAIN) == []
    assert battles_from_games("q", "m", "A>>B", None, PLAIN, PLAIN) == []
    assert battles_from_games("q", "m", None, None, PLAIN, PLAIN) == []


def reference_bt(outcomes):
    """Independent: one candidate vs the baseline, no style. The unpenalised Bradley-Terry
    likelihood with ties as half wins is maximised where the predicted rate equals the mean
    outcome, so the win rate is the plain (weighted) mean of the battles."""
    return sum(outcomes) / len(outcomes)


def reference_bt_numeric(outcomes):
    """The same optimum found numerically, over (beta_candidate, beta_baseline)."""
    y = np.array([v for o in outcomes for v in ((1.0 if o == 0.0 else 0.0), (1.0 if o < 1.0 else 0.0))])

    def loss(w):
        t = math.log(10) * (w[1] - w[0])  # baseline +ln10, candidate -ln10; y = 1: baseline wins
        return np.sum(np.logaddexp(0, t) - y * t)

    w = minimize(loss, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x
    return 1 / (1 + 10 ** (w[1] - w[0]))


@pytest.mark.parametrize("outcomes", [[1.0] * 6 + [0.0] * 2, [1.0, 0.5, 0.5, 0.0], [0.0] * 5 + [1.0]])
def test_bt_without_style_matches_an_independent_fit(outcomes):
    battles = [Battle(f"q{i}", "m", o, PLAIN, PLAIN) for i, o in enumerate(outcomes)]
    assert fit(battles, style="none").win_rate["m"] == pytest.approx(reference_bt(outcomes), abs=1e-4)
    assert reference_bt_numeric(outcomes) == pytest.approx(reference_bt(outcomes), abs=1e-4)


def test_balanced_results_give_one_half():
    battles = [Battle("q1", "m", 1.0, PLAIN, PLAIN), Battle("q2", "m", 0.0, PLAIN, PLAIN),
               Battle("q3", "m", 0.5, PLAIN, PLAIN)]
    assert fit(battles, style="none").win_rate["m"] == pytest.approx(0.5, abs=1e-9)


def length_biased():
    """The candidate wins when its answer is the longer one, but for two losses (were it all
    of them, length would separate the outcomes and its coefficient would be infinite)."""
    out = []
    for i in range(40):
        longer = i % 2 == 0
        cand = {**PLAIN, "tokens": 300 if longer else 100}
        out.append(Battle(f"q{i}", "m", 1.0 if longer else 0.0, cand, PLAIN))
    out += [Battle(f"l{i}", "m", 0.0, {**PLAIN, "tokens": 300}, PLAIN) for i in range(2)]
    # and a few wins that length does not explain
    out += [Battle(f"r{i}", "m", 1.0, {**PLAIN, "tokens": 100}, PLAIN) for i in range(4)]
    return out


def test_length_control_explains_wins_by_length():
    battles = length_biased()
    raw = fit(battles, style="none").win_rate["m"]
    controlled = fit(battles, style="length")
    assert raw > 0.5 and controlled.style_coefs["tokens"] > 0 and controlled.notes == ()  # longer answers win
    # in the baseline's style (equal length) the candidate won 4 of 24: far below its raw rate
    assert controlled.win_rate_parity["m"] < 0.3 < raw
    # upstream's number sits at the average length gap of the battles: between the two regimes
    assert controlled.win_rate_parity["m"] < controlled.win_rate["m"] < 1.0
    assert fit(battles, style="none").win_rate_parity == fit(battles, style="none").win_rate


def test_frozen_style_keeps_each_checkpoint_independent():
    a = length_biased()
    reference = fit(a, style="length").normalisation
    alone = fit(a, style="length", frozen=reference).win_rate["m"]
    b = [Battle(x.prompt, "other", 1.0 - x.outcome, x.candidate_style, x.baseline_style) for x in a]
    together = fit(a + b, style="length", frozen=reference).win_rate
    assert together["m"] == pytest.approx(alone, abs=1e-9)  # adding "other" moved nothing
    assert together["other"] < 0.5


def test_bootstrap_intervals_contain_the_estimate():
    battles = length_biased()
    point = fit(battles, style="length").win_rate["m"]
    for cluster in (False, True):
        ci = bootstrap(battles, style="length", rounds=30, cluster=cluster)["m"]
        assert ci.lo < point < ci.hi
        assert ci.rounds_without_style <= 3  # a resample without the two long losses is separated


def test_a_clean_sweep_still_fits():
    """scikit-learn refuses one class; the ridge optimiser gives the (near-)zero rate."""
    losses = [Battle(f"q{i}", "m", 0.0, PLAIN, PLAIN) for i in range(5)]
    assert fit(losses, style="none").win_rate["m"] < 0.001


def test_features_are_upstreams_length_difference_and_markdown_densities():
    from bolt_eval.arena.style_control import style_matrix

    cand = {"tokens": 300, "headers": 3, "lists": 0, "bold": 6}
    base = {"tokens": 100, "headers": 1, "lists": 2, "bold": 0}
    [row] = style_matrix([Battle("q", "m", 1.0, cand, base)], ("tokens", "headers", "lists", "bold"))
    assert row[0] == pytest.approx((300 - 100) / 400)
    assert row[1] == pytest.approx((3 / 300 - 1 / 100) / (3 / 300 + 1 / 100 + 1))  # equal densities: 0
    assert row[2] == pytest.approx((0 - 2 / 100) / (0 + 2 / 100 + 1))
    assert row[3] == pytest.approx((6 / 300) / (6 / 300 + 1))


def seeded_battles(checkpoints=3, prompts=60, seed=7):
    """Random verdicts and style counts, as the bench case draws them, small."""
    import random

    rng = random.Random(seed)
    labels = ("A>>B", "A>B", "A=B", "B>A", "B>>A")

    def style():
        return {"tokens": rng.randint(50, 1500), "headers": rng.randint(0, 6), "lists": rng.randint(0, 20),
                "bold": rng.randint(0, 10)}

    out = []
    for c in range(checkpoints):
        for p in range(prompts):
            out += battles_from_games(f"p{p}", f"ckpt{c}", rng.choice(labels), rng.choice(labels), style(), style())
    return out


def intervals(ci):
    return {m: (i.lo, i.hi, i.rounds_without_style) for m, i in ci.items()}


def close(actual, golden):
    """Equal to 1e-6 (interval round counts exactly), key for key."""
    assert list(actual) == list(golden)
    for key, value in golden.items():
        if isinstance(value, tuple):
            assert actual[key][:2] == pytest.approx(value[:2], abs=1e-6) and actual[key][2] == value[2], key
        else:
            assert actual[key] == pytest.approx(value, abs=1e-6), key


def test_fit_and_bootstrap_equal_the_golden_of_the_serial_fit():
    """Numbers of the fit before it was vectorised (scikit-learn refitting each resample
    from its battle list, git 181da00): the weighted refit must give them to 1e-6, on the
    same resampling stream."""
    battles = seeded_battles()
    result = fit(battles, "both")
    close(result.win_rate, {"ckpt0": 0.37137937614886035, "ckpt1": 0.4634471834946118, "ckpt2": 0.5695089565529711})
    close(result.win_rate_parity,
          {"ckpt0": 0.37263478276860196, "ckpt1": 0.4647837044434403, "ckpt2": 0.5708259397040598})
    close(result.style_coefs, {"tokens": -0.1801251431758185, "headers": -0.12874542547695775,
                               "lists": 0.10550030930327445, "bold": -0.10725793986307461})
    close(intervals(bootstrap(battles, "both", rounds=20)),
          {"ckpt0": (0.29484860910117394, 0.4479149609167718, 0), "ckpt1": (0.3809742226540625, 0.49467799224216463, 0),
           "ckpt2": (0.522699307286373, 0.6496433328509937, 0)})
    close(intervals(bootstrap(battles, "both", rounds=20, cluster=True)),
          {"ckpt0": (0.29366368928754855, 0.5014007898171436, 0), "ckpt1": (0.3931934039529728, 0.5692619614120691, 0),
           "ckpt2": (0.4629549054202349, 0.6597921240887499, 0)})
    frozen = fit(battles, "both", frozen=result.normalisation)
    close(frozen.win_rate, {"ckpt0": 0.37137937612359256, "ckpt1": 0.4634471834930176, "ckpt2": 0.5695089565561223})
    close(intervals(bootstrap(battles, "both", rounds=10, frozen=result.normalisation)),
          {"ckpt0": (0.28193174150616723, 0.41105511986467497, 0), "ckpt1": (0.38507640084024225, 0.4909622058581275, 0),
           "ckpt2": (0.5298628366738383, 0.6361600429368318, 0)})


def test_bootstrap_with_separated_and_one_sided_resamples_equals_the_golden():
    """The small sets where resamples lose their style control or a side sweeps (git 181da00)."""
    battles = length_biased()
    for cluster in (False, True):
        close(intervals(bootstrap(battles, "length", rounds=30, cluster=cluster)),
              {"m": (0.37377846250349167, 0.7823781603411202, 1)})
    lost = [Battle(x.prompt, "lost", 0.0, x.candidate_style, x.baseline_style) for x in battles[:10]]
    result = fit(battles + lost, "length")
    close(result.win_rate, {"m": 0.5687409332002403, "lost": 0.0})
    close(result.win_rate_parity, {"m": 0.1666666668645272, "lost": 0.0})
    close(result.style_coefs, {"tokens": 1.9547636461702023})
    assert "lost won or lost every battle" in result.notes[0]
    close(intervals(bootstrap(battles + lost, "length", rounds=20)),
          {"m": (0.35128201773123024, 0.6876145404367712, 3), "lost": (0.0, 0.0, 3)})
