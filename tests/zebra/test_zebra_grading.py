"""Answer parsing and cell grading on crafted model outputs."""

from __future__ import annotations

import json

from bolt_eval.zebra.grading import GradeResult, grade, parse_answer

SOLUTION = {
    "header": ["House", "Name", "Pet"],
    "rows": [["1", "Alice", "cat"], ["2", "Bob", "dog"], ["3", "Chloe", "hamster"]],
}
RIGHT = {
    "House 1": {"Name": "Alice", "Pet": "cat"},
    "House 2": {"Name": "Bob", "Pet": "dog"},
    "House 3": {"Name": "Chloe", "Pet": "hamster"},
}


def answer(solution: object, reasoning: str = "Clue 1 ...") -> str:
    return json.dumps({"reasoning": reasoning, "solution": solution}, indent=4)


def score(text: str) -> GradeResult:
    return grade(SOLUTION, parse_answer(text))


def test_fenced_json_after_prose():
    text = "Let me think {step by step}.\n\n```json\n" + answer(RIGHT) + "\n```\nDone."
    assert score(text) == GradeResult(6, 6, True, True)


def test_trailing_text_and_raw_newlines_inside_strings():
    text = '{"reasoning": "line one\nline two", "solution": ' + json.dumps(RIGHT) + "}\n\nHope this helps!"
    assert parse_answer(text)["reasoning"] == "line one\nline two"
    assert score(text).solved


def test_unclosed_brace_in_reasoning_does_not_hide_the_answer():
    assert score("Houses {1, 2 could hold Bob... " + answer(RIGHT)).solved


def test_two_json_objects_last_wins():
    wrong = {h: {"Name": "x", "Pet": "y"} for h in RIGHT}
    assert score(answer(RIGHT) + "\nWait, let me fix that.\n" + answer(wrong)).cells_correct == 0
    assert score(answer(wrong) + "\nWait, let me fix that.\n" + answer(RIGHT)).solved


def test_later_object_without_solution_key_is_skipped():
    assert score(answer(RIGHT) + '\nConfidence: {"level": "high"}').solved


def test_case_and_whitespace_are_ignored():
    shouting = {h: {a: f"  {v.upper()} " for a, v in cells.items()} for h, cells in RIGHT.items()}
    assert score(answer(shouting)) == GradeResult(6, 6, True, True)


def test_list_values_count_by_first_element():
    lists = {
        "House 1": {"Name": ["Alice", "Bob"], "Pet": ["dog", "cat"]},
        "House 2": {"Name": [], "Pet": ["dog"]},
        "House 3": {"Name": "Chloe", "Pet": "hamster"},
    }
    assert score(answer(lists)) == GradeResult(6, 4, False, True)


def test_missing_house_and_attribute_and_empty_values_count_wrong():
    partial = {
        "House 1": {"Name": "Alice"},
        "House 3": {"Name": "", "Pet": None},
    }
    assert score(answer(partial)) == GradeResult(6, 1, False, True)


def test_keys_must_match_like_the_official_scorer():
    renamed = {h.lower(): cells for h, cells in RIGHT.items()}
    assert score(answer(renamed)) == GradeResult(6, 0, False, True)
    lower_attrs = {h: {a.lower(): v for a, v in cells.items()} for h, cells in RIGHT.items()}
    assert score(answer(lower_attrs)).cells_correct == 0


def test_no_json_at_all_adds_cells_with_none_correct():
    assert parse_answer("Alice has the cat, Bob the dog, Chloe the hamster.") is None
    assert score("no answer here") == GradeResult(6, 0, False, False)
    assert score('{"reasoning": "cut off", "solution": {"House 1": ') == GradeResult(6, 0, False, False)


def test_null_solution_is_no_answer_and_odd_types_are_wrong():
    assert score(answer(None)) == GradeResult(6, 0, False, False)
    assert score(answer(["Alice", "Bob"])) == GradeResult(6, 0, False, True)
    odd = {"House 1": {"Name": {"first": "Alice"}, "Pet": True}, "House 2": "Bob", "House 3": RIGHT["House 3"]}
    assert score(answer(odd)) == GradeResult(6, 2, False, True)


def test_numbers_compare_as_text():
    solution = {"header": ["House", "Age"], "rows": [["1", "30"], ["2", "41"]]}
    parsed = parse_answer(answer({"House 1": {"Age": 30}, "House 2": {"Age": 40}}))
    assert grade(solution, parsed) == GradeResult(2, 1, False, True)
    assert grade(solution, parsed).cell_accuracy == 0.5
