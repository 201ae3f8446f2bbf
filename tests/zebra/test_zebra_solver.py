"""The solver on hand-made puzzles with known answers, and against brute force."""

from __future__ import annotations

import itertools
import random

import pytest

from bolt_eval.zebra.solver import BINARY_KINDS, CLUE_KINDS, Clue, count_solutions, solve

EINSTEIN = {
    "Color": ["red", "green", "ivory", "yellow", "blue"],
    "Nationality": ["English", "Spanish", "Ukrainian", "Norwegian", "Japanese"],
    "Drink": ["coffee", "tea", "milk", "orange juice", "water"],
    "Smoke": ["Old Gold", "Kools", "Chesterfields", "Lucky Strike", "Parliaments"],
    "Pet": ["dog", "snails", "fox", "horse", "zebra"],
}
EINSTEIN_CLUES = [
    Clue("same_house", ("Nationality", "English"), ("Color", "red")),
    Clue("same_house", ("Nationality", "Spanish"), ("Pet", "dog")),
    Clue("same_house", ("Drink", "coffee"), ("Color", "green")),
    Clue("same_house", ("Nationality", "Ukrainian"), ("Drink", "tea")),
    Clue("direct_right", ("Color", "green"), ("Color", "ivory")),
    Clue("same_house", ("Smoke", "Old Gold"), ("Pet", "snails")),
    Clue("same_house", ("Smoke", "Kools"), ("Color", "yellow")),
    Clue("found_at", ("Drink", "milk"), house=3),
    Clue("found_at", ("Nationality", "Norwegian"), house=1),
    Clue("next_to", ("Smoke", "Chesterfields"), ("Pet", "fox")),
    Clue("next_to", ("Smoke", "Kools"), ("Pet", "horse")),
    Clue("same_house", ("Smoke", "Lucky Strike"), ("Drink", "orange juice")),
    Clue("same_house", ("Nationality", "Japanese"), ("Smoke", "Parliaments")),
    Clue("next_to", ("Nationality", "Norwegian"), ("Color", "blue")),
]
# The classic answer: the Norwegian drinks water, the Japanese owns the zebra.
EINSTEIN_ANSWER = {
    "Color": ["yellow", "blue", "red", "ivory", "green"],
    "Nationality": ["Norwegian", "Ukrainian", "English", "Spanish", "Japanese"],
    "Drink": ["water", "tea", "milk", "orange juice", "coffee"],
    "Smoke": ["Kools", "Chesterfields", "Old Gold", "Lucky Strike", "Parliaments"],
    "Pet": ["fox", "horse", "snails", "dog", "zebra"],
}

SMALL = {"Name": ["Ann", "Ben", "Cy"], "Color": ["red", "green", "blue"]}


def test_einstein_puzzle_has_its_known_unique_answer():
    assert count_solutions(5, EINSTEIN, EINSTEIN_CLUES, limit=10) == 1
    assert solve(5, EINSTEIN, EINSTEIN_CLUES) == EINSTEIN_ANSWER


def test_einstein_without_its_last_clue_is_ambiguous():
    assert count_solutions(5, EINSTEIN, EINSTEIN_CLUES[:-1]) == 2  # limit 2: "at least two"


def test_three_house_puzzle_with_positional_clues():
    clues = [
        Clue("somewhere_right", ("Name", "Ann"), ("Color", "blue")),  # Ann not in 1
        Clue("one_between", ("Name", "Ben"), ("Color", "green")),
        Clue("not_at", ("Color", "green"), house=1),
        Clue("direct_left", ("Name", "Cy"), ("Name", "Ann")),
    ]
    # green not in 1 and one house between Ben and green -> green in 3, Ben in 1; Cy just left of Ann
    # -> Cy 2, Ann 3; blue left of Ann and not green's house -> blue in 1 or 2, red takes the other.
    assert count_solutions(3, SMALL, clues, limit=10) == 2
    clues.append(Clue("same_house", ("Name", "Cy"), ("Color", "red")))
    assert count_solutions(3, SMALL, clues, limit=10) == 1
    assert solve(3, SMALL, clues) == {"Name": ["Ben", "Cy", "Ann"], "Color": ["blue", "red", "green"]}


def test_puzzle_with_exactly_two_solutions():
    clues = [
        Clue("found_at", ("Name", "Ann"), house=1),
        Clue("same_house", ("Name", "Ben"), ("Color", "red")),
        Clue("found_at", ("Color", "green"), house=1),
    ]
    both = [
        {"Name": ["Ann", "Ben", "Cy"], "Color": ["green", "red", "blue"]},
        {"Name": ["Ann", "Cy", "Ben"], "Color": ["green", "blue", "red"]},
    ]
    assert count_solutions(3, SMALL, clues) == 2
    assert count_solutions(3, SMALL, clues, limit=100) == 2
    assert count_solutions(3, SMALL, clues, limit=1) == 1
    assert solve(3, SMALL, clues) in both


def test_contradiction_has_no_solution():
    clues = [
        Clue("direct_left", ("Name", "Ann"), ("Color", "red")),
        Clue("found_at", ("Color", "red"), house=1),
    ]
    assert count_solutions(3, SMALL, clues) == 0
    assert solve(3, SMALL, clues) is None


def test_no_clues_counts_every_permutation():
    assert count_solutions(3, SMALL, [], limit=1000) == 36


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="unknown clue kind"):
        Clue("above", ("Name", "Ann"), ("Name", "Ben"))
    with pytest.raises(ValueError, match="needs a house"):
        Clue("found_at", ("Name", "Ann"))
    with pytest.raises(ValueError, match="to itself"):
        Clue("next_to", ("Name", "Ann"), ("Name", "Ann"))
    with pytest.raises(ValueError, match="not an attribute value"):
        count_solutions(3, SMALL, [Clue("found_at", ("Name", "Zed"), house=1)])
    with pytest.raises(ValueError, match="houses are 1..3"):
        count_solutions(3, SMALL, [Clue("found_at", ("Name", "Ann"), house=4)])
    with pytest.raises(ValueError, match="3 distinct values"):
        count_solutions(3, {"Name": ["Ann", "Ann", "Cy"]}, [])


def _holds(clue: Clue, pos: dict[tuple[str, str], int]) -> bool:
    """Independent semantics of each clue kind on 1-based positions."""
    x = pos[clue.first]
    if clue.kind == "found_at":
        return x == clue.house
    if clue.kind == "not_at":
        return x != clue.house
    y = pos[clue.second]
    return {
        "same_house": x == y,
        "direct_left": x == y - 1,
        "direct_right": x == y + 1,
        "somewhere_left": x < y,
        "somewhere_right": x > y,
        "next_to": abs(x - y) == 1,
        "one_between": abs(x - y) == 2,
        "two_between": abs(x - y) == 3,
    }[clue.kind]


def _brute_force(n: int, attributes: dict[str, list[str]], clues: list[Clue]) -> int:
    names = list(attributes)
    count = 0
    for perms in itertools.product(itertools.permutations(range(1, n + 1)), repeat=len(names)):
        pos = {(a, v): p[i] for a, p in zip(names, perms) for i, v in enumerate(attributes[a])}
        count += all(_holds(c, pos) for c in clues)
    return count


@pytest.mark.parametrize(("n", "m", "trials"), [(3, 3, 150), (4, 2, 150)])
def test_counts_match_brute_force_on_random_clues(n, m, trials):
    rng = random.Random(f"brute:{n}x{m}")
    attributes = {f"A{a}": [f"v{a}{i}" for i in range(n)] for a in range(m)}
    refs = [(a, v) for a, values in attributes.items() for v in values]
    seen_counts = set()
    for _ in range(trials):
        clues = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.choice(CLUE_KINDS)
            if kind in BINARY_KINDS:
                x, y = rng.sample(refs, 2)
                clues.append(Clue(kind, x, y))
            else:
                clues.append(Clue(kind, rng.choice(refs), house=rng.randint(1, n)))
        expected = _brute_force(n, attributes, clues)
        assert count_solutions(n, attributes, clues, limit=10**6) == expected, clues
        seen_counts.add(min(expected, 2))
        found = solve(n, attributes, clues)
        assert (found is None) == (expected == 0)
        if found is not None:
            pos = {(a, v): row.index(v) + 1 for a, row in found.items() for v in row}
            assert all(_holds(c, pos) for c in clues)
    assert seen_counts == {0, 1, 2}  # the random sets exercised none, one and many
