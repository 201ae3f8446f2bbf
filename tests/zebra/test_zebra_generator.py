"""Generated puzzles: the text alone pins down the stored solution, deterministically.

The clues are read back from the rendered text (not taken from the generator), so these
tests check the generator, the renderer and the solver against each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bolt_eval.zebra.generator import GENERATOR_VERSION, ORDINALS, generate, generate_set
from bolt_eval.zebra.pools import ATTRIBUTES
from bolt_eval.zebra.puzzle import Puzzle
from bolt_eval.zebra.solver import CLUE_KINDS, Clue, count_solutions, solve

ALL_SIZES = [(n, m) for n in range(2, 7) for m in range(2, 7)]
BINARY_TEMPLATES = [  # (kind, prefix, middle, suffix); same_house last, it is the loosest
    ("direct_left", "", " is directly left of ", "."),
    ("direct_right", "", " is directly right of ", "."),
    ("somewhere_left", "", " is somewhere to the left of ", "."),
    ("somewhere_right", "", " is somewhere to the right of ", "."),
    ("next_to", "", " and ", " are next to each other."),
    ("one_between", "There is one house between ", " and ", "."),
    ("two_between", "There are two houses between ", " and ", "."),
    ("same_house", "", " is ", "."),
]
UNARY = re.compile(r"^(?P<x>.+) is (?P<neg>not )?in the (?P<h>\w+) house\.$")


def read_puzzle(puzzle: Puzzle) -> tuple[dict[str, list[str]], list[Clue]]:
    """Attribute values (from the bullets) and clues (from the sentences) of the text."""
    intro = {a.intro: a for a in ATTRIBUTES.values()}
    domains: dict[str, list[str]] = {}
    phrases: dict[str, tuple[str, str]] = {}
    for line in puzzle.puzzle.splitlines():
        bullet = re.match(r"^ - (.+): (`.+`)$", line)
        if bullet:
            attribute = intro[bullet.group(1)]
            domains[attribute.header] = re.findall(r"`([^`]+)`", bullet.group(2))
            phrases.update({attribute.phrase(v): (attribute.header, v) for v in domains[attribute.header]})

    def ref(text: str) -> tuple[str, str] | None:
        return phrases.get(text) or phrases.get(text[:1].lower() + text[1:])

    clues = []
    sentences = puzzle.puzzle.split("## Clues:\n", 1)[1].splitlines()
    for number, line in enumerate(sentences, start=1):
        sentence = line.removeprefix(f"{number}. ")
        assert sentence != line, f"clue {number} is not numbered: {line!r}"
        unary = UNARY.match(sentence)
        parses = []
        if unary and ref(unary.group("x")):
            kind = "not_at" if unary.group("neg") else "found_at"
            parses.append(Clue(kind, ref(unary.group("x")), house=ORDINALS.index(unary.group("h")) + 1))
        for kind, prefix, middle, suffix in BINARY_TEMPLATES:
            if not (sentence.startswith(prefix) and sentence.endswith(suffix)):
                continue
            body = sentence[len(prefix) : len(sentence) - len(suffix)]
            for match in re.finditer(re.escape(middle), body):
                x, y = ref(body[: match.start()]), ref(body[match.end() :])
                if x and y:
                    parses.append(Clue(kind, x, y))
        assert len(parses) == 1, f"clue {number} reads {len(parses)} ways: {sentence!r}"
        clues.append(parses[0])
    return domains, clues


def check_unique(puzzle: Puzzle) -> list[Clue]:
    domains, clues = read_puzzle(puzzle)
    header, rows = puzzle.solution["header"], puzzle.solution["rows"]
    assert list(domains) == header[1:]
    assert header[1] == "Name"
    expected = {attr: [row[j] for row in rows] for j, attr in enumerate(header) if j}
    assert count_solutions(puzzle.n_houses, domains, clues) == 1, puzzle.id
    assert solve(puzzle.n_houses, domains, clues) == expected, puzzle.id
    return clues


def test_every_size_is_unique_and_well_formed():
    kinds = set()
    for puzzle in generate_set(ALL_SIZES, 1, seed="sizes"):
        n, m = puzzle.n_houses, puzzle.n_attributes
        assert puzzle.id == f"gen-v{GENERATOR_VERSION}-ssizes-{n}x{m}-0000"
        assert puzzle.puzzle.startswith(f"There are {n} houses, numbered 1 to {n} from left to right")
        assert [row[0] for row in puzzle.solution["rows"]] == [str(h) for h in range(1, n + 1)]
        assert Puzzle.from_record(json.loads(json.dumps(puzzle.to_record())), "rt") == puzzle
        kinds |= {clue.kind for clue in check_unique(puzzle)}
    assert kinds == set(CLUE_KINDS)


def test_batch_of_small_puzzles_is_unique():
    for puzzle in generate_set([(3, 3), (4, 3)], 10, seed=11):
        check_unique(puzzle)


@pytest.mark.parametrize(("n", "m"), [(4, 4), (5, 5)])
def test_no_clue_is_redundant(n, m):
    puzzle = generate(n, m, seed="minimal", index=0)
    domains, clues = read_puzzle(puzzle)
    for i in range(len(clues)):
        assert count_solutions(n, domains, clues[:i] + clues[i + 1 :]) == 2, f"clue {i + 1} is redundant"


def test_same_seed_same_records_and_other_seed_differs():
    sizes = [(2, 3), (4, 4), (6, 6)]
    first = [p.to_record() for p in generate_set(sizes, 2, seed=7)]
    again = [p.to_record() for p in generate_set(sizes, 2, seed=7)]
    other = [p.to_record() for p in generate_set(sizes, 2, seed=8)]
    assert first == again
    assert all(a["puzzle"] != b["puzzle"] for a, b in zip(first, other))
    assert first[0]["puzzle"] != first[1]["puzzle"]  # index matters too


def test_output_does_not_depend_on_the_process_hash_seed():
    code = (
        "import json; from bolt_eval.zebra.generator import generate;"
        "print(json.dumps(generate(5, 4, 'x', 3).to_record()))"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1] == generate(5, 4, "x", 3).to_record()


def test_six_by_six_solves_fast():
    puzzle = generate(6, 6, seed="speed", index=0)
    domains, clues = read_puzzle(puzzle)
    start = time.perf_counter()
    assert count_solutions(6, domains, clues) == 1
    assert time.perf_counter() - start < 1.0


def test_rejects_sizes_the_pools_cannot_fill():
    with pytest.raises(ValueError, match="n_houses"):
        generate(8, 3, seed=0, index=0)
    with pytest.raises(ValueError, match="n_attrs"):
        generate(3, len(ATTRIBUTES) + 1, seed=0, index=0)
