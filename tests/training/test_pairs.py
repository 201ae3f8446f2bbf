"""Pair selection (best vs worst of n) on hand-computed reward tables."""

from __future__ import annotations

from bolt_eval.training.pairs import Pair, select_pair, select_pairs


def test_highest_and_lowest_are_paired():
    assert select_pair("p", [0.2, 0.9, -0.5, 0.1]) == (Pair("p", 1, 2, 0.9, -0.5), None)


def test_ties_go_to_the_lowest_index():
    # maxima at 1 and 3, minima at 0 and 2
    assert select_pair("p", [0.0, 1.0, 0.0, 1.0]) == (Pair("p", 1, 0, 1.0, 0.0), None)
    assert select_pair("p", [0.5, 0.5, 0.2, 0.9, 0.2, 0.9]) == (Pair("p", 3, 2, 0.9, 0.2), None)


def test_all_equal_group_is_dropped():
    assert select_pair("p", [0.7, 0.7, 0.7]) == (None, "all_equal")
    # equal once the failed one is left out
    assert select_pair("p", [0.7, None, 0.7]) == (None, "all_equal")


def test_failed_rewards_are_left_out():
    # the None at index 0 would otherwise be nothing; the min among the valid is index 3
    assert select_pair("p", [None, 0.4, 0.6, 0.1]) == (Pair("p", 2, 3, 0.6, 0.1), None)
    assert select_pair("p", [None, 0.4, None]) == (None, "too_few_valid")
    assert select_pair("p", [None, None]) == (None, "too_few_valid")
    assert select_pair("p", []) == (None, "too_few_valid")


def test_counts_over_a_table():
    table = {
        "a": [1.0, 0.0, 0.5, 0.5],      # pair (0, 1)
        "b": [0.3, 0.3, 0.3, 0.3],      # all equal
        "c": [None, 0.2, None, None],   # 3 failed, too few valid
        "d": [None, -1.0, 2.0, 2.0],    # 1 failed, pair (2, 1)
        "e": [0.1, None, 0.1, 0.1],     # 1 failed, all equal
    }
    pairs, counts = select_pairs(table)
    assert pairs == [Pair("a", 0, 1, 1.0, 0.0), Pair("d", 2, 1, 2.0, -1.0)]
    assert counts.to_dict() == {"groups": 5, "samples": 20, "failed_rewards": 5, "pairs": 2,
                                "dropped": {"all_equal": 2, "too_few_valid": 1}}
