"""The solver-written SFT traces of the tiny recipe: the committed files are what the
writer makes from the generator's puzzles, and the `deduce` style says, clue by clue, the
houses each clue fixes given the ones before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from zebra_sft import deductions, parse_clues, rows

from bolt_eval.zebra.generator import generate_set

QUERIES = Path(__file__).resolve().parents[2] / "training" / "queries"


def lines_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_committed_sets_are_what_the_writer_makes(tmp_path: Path) -> None:
    assert rows(QUERIES / "tiny-zebra.jsonl", 16, "check") == lines_of(QUERIES / "tiny-zebra-sft.jsonl")
    puzzles = tmp_path / "2x2.jsonl"
    puzzles.write_text("".join(json.dumps(p.to_record()) + "\n" for p in generate_set([(2, 2)], 32, 11)))
    assert rows(puzzles, None, "deduce") == lines_of(QUERIES / "tiny-zebra-sft-deduce.jsonl")


HEADER = ["House", "Name", "Hobby"]
ROWS = [["1", "Chloe", "chess"], ["2", "Elena", "painting"]]


def test_a_clue_that_fixes_nothing_alone_is_said_so_and_the_next_fixes_both_houses() -> None:
    steps = deductions(["Chloe is the person who enjoys chess.", "Elena is in the second house."], HEADER, ROWS)
    assert steps == [
        'Clue 1: "Chloe is the person who enjoys chess." This fixes no house yet.',
        'Clue 2: "Elena is in the second house." So House 1: Name Chloe, Hobby chess; '
        "House 2: Name Elena, Hobby painting.",
    ]


def test_each_clue_fixes_what_it_alone_decides() -> None:
    steps = deductions(["Elena is not in the first house.", "Chloe is the person who enjoys chess."], HEADER, ROWS)
    assert steps == [
        'Clue 1: "Elena is not in the first house." So House 1: Name Chloe; House 2: Name Elena.',
        'Clue 2: "Chloe is the person who enjoys chess." So House 1: Hobby chess; House 2: Hobby painting.',
    ]


def test_a_clue_in_other_words_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match="Chloe lives left of Elena"):
        parse_clues(["Chloe lives left of Elena."], HEADER, ROWS)
