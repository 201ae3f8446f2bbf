"""Stage 1's percentile floor and argmax per query, on hand-computed pools."""

from __future__ import annotations

import pytest

from bolt_eval.training.selection import Scored, select


def pool(rows: dict[str, list[float | None]]) -> list[Scored]:
    return [Scored(q, i, r, None if r is not None else "no_thoughts") for q, rs in rows.items() for i, r in enumerate(rs)]


def test_pool_percentile_boundary_is_kept_and_argmax_wins() -> None:
    # 11 valid rewards sorted 0,1,2,2.7,3,...: the linear 30th percentile sits at rank 0.3*10 = 3 -> 2.7
    sel = select(pool({"a": [0.0, 1.0, 2.0, 9.0], "b": [3.0, 4.0, 2.7], "c": [5.0, 6.0, 7.0, 8.0]}), 30)
    assert sel.threshold == {"pool": pytest.approx(2.7)}
    assert {q: s.index for q, s in sel.chosen.items()} == {"a": 3, "b": 1, "c": 3}
    assert sel.verdicts[("b", 2)] == "not_best"  # equal to the threshold: kept in the pool, not the best
    assert sel.verdicts[("a", 2)] == "below_percentile"


def test_threshold_equal_is_kept() -> None:
    sel = select(pool({"a": [1.0, 1.0, 1.0], "b": [1.0]}), 30)
    assert sel.threshold["pool"] == 1.0
    assert sel.chosen["a"].index == 0  # ties: the lowest sample index
    assert sel.verdicts[("a", 1)] == "not_best" and sel.verdicts[("a", 0)] == "kept"


def test_query_with_every_sample_below_the_floor_or_rejected_keeps_nothing() -> None:
    sel = select(pool({"low": [0.0, 0.1], "none": [None, None], "high": [5.0, 6.0, 7.0]}), 40)
    assert set(sel.chosen) == {"high"}
    assert sel.counts["queries_without_survivor"] == 2
    assert sel.verdicts[("none", 0)] == "no_thoughts"
    assert sel.verdicts[("low", 1)] == "below_percentile"
    assert sel.counts == {"no_thoughts": 2, "below_percentile": 2, "not_best": 2, "kept": 1,
                          "queries_kept": 1, "queries_without_survivor": 2}


def test_query_scope_uses_each_groups_own_percentile() -> None:
    sel = select(pool({"a": [0.0, 0.1, 0.2], "b": [5.0, 6.0, 7.0]}), 50, scope="query")
    assert sel.threshold == {"a": pytest.approx(0.1), "b": pytest.approx(6.0)}
    assert {q: s.index for q, s in sel.chosen.items()} == {"a": 2, "b": 2}
    assert sel.verdicts[("a", 0)] == "below_percentile" and sel.verdicts[("a", 1)] == "not_best"


def test_bad_percentile_and_empty_pool() -> None:
    with pytest.raises(ValueError):
        select([], 101)
    sel = select(pool({"a": [None]}), 30)
    assert sel.chosen == {} and sel.threshold == {"pool": None}
