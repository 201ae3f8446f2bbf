"""Seeded generator of ZebraLogic-style grid puzzles with solver-proven unique answers.

Follows the paper's recipe (Lin et al. 2025, Algorithm 1): sample M attributes and a
random solution grid, list every clue that is true of it, then keep a clue set under
which the solver finds exactly that grid. Here clues are drawn one by one (kind by
weight, then uniformly within the kind) until the solution is unique, and then each
clue, in random order, is dropped if the solution stays unique without it, so the final
set has no redundant clue. The text mirrors the official grid-mode puzzles.

Determinism: every puzzle uses its own random.Random seeded with the string
f"{seed}:{n}x{m}:{index}" (string seeds are hashed with SHA-512, never with the
per-process salted hash()), so a (seed, size, index) always yields the same record.
Bump GENERATOR_VERSION whenever a change alters the output for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from bolt_eval.zebra.pools import ATTRIBUTES, MAX_SIZE, NAME, OTHER_ATTRIBUTES, Attribute, sentence_start
from bolt_eval.zebra.puzzle import Puzzle
from bolt_eval.zebra.solver import CLUE_KINDS, Clue, Ref, count_solutions, solve

GENERATOR_VERSION = "1"

# Relative chance of drawing each kind (the pool has far more not_at / somewhere_* clues).
KIND_WEIGHTS = {
    "found_at": 1.0,
    "not_at": 1.0,
    "same_house": 3.0,
    "direct_left": 1.0,
    "direct_right": 1.0,
    "somewhere_left": 1.0,
    "somewhere_right": 1.0,
    "next_to": 1.0,
    "one_between": 0.7,
    "two_between": 0.5,
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
BINARY_TEMPLATES = {  # X: first phrase at the start of the sentence, x: mid-sentence
    "same_house": "{X} is {y}.",
    "direct_left": "{X} is directly left of {y}.",
    "direct_right": "{X} is directly right of {y}.",
    "somewhere_left": "{X} is somewhere to the left of {y}.",
    "somewhere_right": "{X} is somewhere to the right of {y}.",
    "next_to": "{X} and {y} are next to each other.",
    "one_between": "There is one house between {x} and {y}.",
    "two_between": "There are two houses between {x} and {y}.",
}
Grid = dict[str, list[str]]  # attribute -> value in house 1..N


def puzzle_id(seed: int | str, n_houses: int, n_attrs: int, index: int) -> str:
    """The record id, e.g. "gen-v1-s42-3x4-0007"."""
    return f"gen-v{GENERATOR_VERSION}-s{seed}-{n_houses}x{n_attrs}-{index:04d}"


def generate(n_houses: int, n_attrs: int, seed: int | str, index: int) -> Puzzle:
    """One puzzle with N houses and M attributes whose unique solution is proven."""
    if not 2 <= n_houses <= MAX_SIZE:
        raise ValueError(f"n_houses must be 2..{MAX_SIZE}, got {n_houses}")
    if not 1 <= n_attrs <= len(ATTRIBUTES):
        raise ValueError(f"n_attrs must be 1..{len(ATTRIBUTES)}, got {n_attrs}")
    rng = random.Random(f"{seed}:{n_houses}x{n_attrs}:{index}")
    attributes = [NAME, *rng.sample(OTHER_ATTRIBUTES, n_attrs - 1)]
    grid: Grid = {a.header: rng.sample(a.values, n_houses) for a in attributes}
    domains = {attr: sorted(values) for attr, values in grid.items()}

    clues: list[Clue] = []
    for clue in _draw(rng, _true_clues(grid, n_houses)):
        clues.append(clue)
        if count_solutions(n_houses, domains, clues) == 1:
            break
    for clue in rng.sample(clues, len(clues)):
        trial = [c for c in clues if c is not clue]
        if count_solutions(n_houses, domains, trial) == 1:
            clues = trial
    rng.shuffle(clues)
    if count_solutions(n_houses, domains, clues) != 1 or solve(n_houses, domains, clues) != grid:
        raise RuntimeError(f"generator bug: puzzle {seed}/{n_houses}x{n_attrs}/{index} is not uniquely solved")

    text = render_puzzle(n_houses, [(a, rng.sample(grid[a.header], n_houses)) for a in attributes], clues)
    header = ["House", *grid]
    rows = [[str(h + 1), *(grid[attr][h] for attr in grid)] for h in range(n_houses)]
    return Puzzle(
        puzzle_id(seed, n_houses, n_attrs, index),
        f"{n_houses}*{n_attrs}",
        text,
        {"header": header, "rows": rows},
    )


def generate_set(sizes: list[tuple[int, int]], n_per_size: int, seed: int | str) -> list[Puzzle]:
    """n_per_size puzzles for each (houses, attributes) size, in the order given."""
    return [generate(n, m, seed, index) for n, m in sizes for index in range(n_per_size)]


def _true_clues(grid: Grid, n: int) -> dict[str, list[Clue]]:
    """Every clue of every kind that holds in `grid`, grouped by kind."""
    pool: dict[str, list[Clue]] = {kind: [] for kind in CLUE_KINDS}
    where: dict[Ref, int] = {(a, v): h for a, values in grid.items() for h, v in enumerate(values)}
    refs = list(where)
    for x in refs:
        pool["found_at"].append(Clue("found_at", x, house=where[x] + 1))
        pool["not_at"].extend(Clue("not_at", x, house=h + 1) for h in range(n) if h != where[x])
    for i, x in enumerate(refs):
        for y in refs[i + 1 :]:
            gap = where[y] - where[x]
            if gap == 0:
                if x[0] != y[0]:
                    pool["same_house"].append(Clue("same_house", x, y))
                continue
            left, right = (x, y) if gap > 0 else (y, x)
            pool["somewhere_left"].append(Clue("somewhere_left", left, right))
            pool["somewhere_right"].append(Clue("somewhere_right", right, left))
            distance = abs(gap)
            if distance == 1:
                pool["direct_left"].append(Clue("direct_left", left, right))
                pool["direct_right"].append(Clue("direct_right", right, left))
                pool["next_to"].append(Clue("next_to", x, y))
            elif distance == 2:
                pool["one_between"].append(Clue("one_between", x, y))
            elif distance == 3:
                pool["two_between"].append(Clue("two_between", x, y))
    return pool


def _draw(rng: random.Random, pool: dict[str, list[Clue]]) -> Iterator[Clue]:
    """Clues without replacement: a kind by KIND_WEIGHTS, then a random clue of it."""
    for clues in pool.values():
        rng.shuffle(clues)
    kinds = [kind for kind in CLUE_KINDS if pool[kind]]
    while kinds:
        kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
        yield pool[kind].pop()
        if not pool[kind]:
            kinds.remove(kind)


def render_clue(clue: Clue) -> str:
    """One clue as an English sentence in the style of the official puzzles."""
    x = ATTRIBUTES[clue.first[0]].phrase(clue.first[1])
    if clue.house is not None:
        negation = " not" if clue.kind == "not_at" else ""
        return f"{sentence_start(x)} is{negation} in the {ORDINALS[clue.house - 1]} house."
    assert clue.second is not None
    y = ATTRIBUTES[clue.second[0]].phrase(clue.second[1])
    return BINARY_TEMPLATES[clue.kind].format(X=sentence_start(x), x=x, y=y)


def render_puzzle(n_houses: int, listing: list[tuple[Attribute, list[str]]], clues: list[Clue]) -> str:
    """The puzzle text: intro, one bullet per attribute (values in `listing` order), clues."""
    lines = [
        f"There are {n_houses} houses, numbered 1 to {n_houses} from left to right, as seen from"
        " across the street. Each house is occupied by a different person. Each house has a"
        " unique attribute for each of the following characteristics:"
    ]
    lines += [f" - {a.intro}: " + ", ".join(f"`{v}`" for v in values) for a, values in listing]
    lines += ["", "## Clues:"]
    lines += [f"{i}. {render_clue(clue)}" for i, clue in enumerate(clues, start=1)]
    return "\n".join(lines) + "\n"
