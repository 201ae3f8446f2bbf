"""The prompt: a correct worked example, the puzzle, and a template the grader can read."""

from __future__ import annotations

import json

from bolt_eval.zebra.generator import generate
from bolt_eval.zebra.grading import grade, parse_answer
from bolt_eval.zebra.prompt import EXAMPLE_ANSWER, EXAMPLE_CLUES, EXAMPLE_PUZZLE, answer_template, render_prompt
from bolt_eval.zebra.solver import Clue, count_solutions, solve


def test_worked_example_has_exactly_the_answer_shown():
    attributes = {
        "Name": ["Mila", "Omar", "Tess"],
        "Fruit": ["apple", "banana", "cherry"],
        "Instrument": ["drums", "flute", "guitar"],
    }
    # EXAMPLE_CLUES, one by one.
    clues = [
        Clue("not_at", ("Name", "Tess"), house=1),
        Clue("direct_left", ("Name", "Tess"), ("Fruit", "cherry")),
        Clue("same_house", ("Fruit", "apple"), ("Name", "Omar")),
        Clue("found_at", ("Instrument", "drums"), house=2),
        Clue("somewhere_right", ("Instrument", "guitar"), ("Instrument", "flute")),
    ]
    assert len(clues) == len(EXAMPLE_CLUES)
    for attribute, values in attributes.items():
        assert ", ".join(f"`{v}`" for v in values) in EXAMPLE_PUZZLE, attribute
    assert count_solutions(3, attributes, clues) == 1
    shown = EXAMPLE_ANSWER["solution"]
    assert solve(3, attributes, clues) == {a: [shown[f"House {h}"][a] for h in (1, 2, 3)] for a in attributes}


def test_prompt_has_example_puzzle_and_template_in_order():
    puzzle = generate(4, 3, seed="prompt", index=0)
    prompt = render_prompt(puzzle)
    marks = [
        "# Example Puzzle",
        "## Answer to the Example Puzzle",
        "# Puzzle to Solve",
        puzzle.puzzle.strip(),
        "# Instruction",
    ]
    positions = [prompt.index(mark) for mark in marks]
    assert positions == sorted(positions)
    assert prompt.rstrip().endswith(answer_template(puzzle))


def test_template_has_a_blank_for_every_house_and_attribute():
    puzzle = generate(4, 3, seed="prompt", index=0)
    template = json.loads(answer_template(puzzle))
    attributes = puzzle.solution["header"][1:]
    assert template["reasoning"] == "___"
    assert template["solution"] == {f"House {h}": {a: "___" for a in attributes} for h in range(1, 5)}


def test_filled_template_grades_as_solved_and_blank_one_as_zero():
    puzzle = generate(3, 4, seed="prompt", index=1)
    assert grade(puzzle.solution, parse_answer(answer_template(puzzle))).cells_correct == 0
    answer = json.loads(answer_template(puzzle))
    header, rows = puzzle.solution["header"], puzzle.solution["rows"]
    for h, row in enumerate(rows, start=1):
        for attribute, value in zip(header[1:], row[1:]):
            answer["solution"][f"House {h}"][attribute] = value
    result = grade(puzzle.solution, parse_answer("Here you go:\n" + json.dumps(answer, indent=4)))
    assert (result.cells_total, result.cells_correct, result.solved) == (12, 12, True)
