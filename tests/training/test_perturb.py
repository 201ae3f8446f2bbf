"""The perturbation transforms (issue 18) on crafted rows: exact outputs for a fixed seed,
and the invariants each kind promises (docs/perturb.md)."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from bolt_eval.thoughts import PRESETS, split_response
from bolt_eval.training.perturb import KINDS, perturb
from bolt_eval.training.perturb.content import NUMBER
from bolt_eval.training.perturb.rows import share
from bolt_eval.training.perturb.structure import split_steps
from bolt_eval.types import UserError

BOLT = PRESETS["bolt"]


def row(thoughts: str, solution: str, **extra: object) -> dict:
    text = f"<internal_thoughts>{thoughts}</internal_thoughts><external_solution>{solution}</external_solution>"
    return {"id": "r", **extra, "messages": [
        {"role": "system", "content": "Think first, 1 step at a time."},
        {"role": "user", "content": "How many apples, 12 - 3?"},
        {"role": "assistant", "content": text}]}


A = row("First, 12 apples.\n\nWait, 3 of them are gone.\n\nSo 9 remain.\n\nCheck: 9 + 3 = 12.", "There are 9 apples.")
B = row("Let x be 2.5 km.\n\nHowever, the speed is 10.\n\nTime is 0.25 h.", "0.25 h")
C = row("Line one.\nLine two.\nLine three.", "3")
ROWS = [A, B, C]


def turn(r: dict) -> str:
    return r["messages"][-1]["content"]


def thoughts(r: dict) -> str:
    return split_response(turn(r), BOLT).thoughts or ""


def solution(r: dict) -> str:
    return turn(r).split("</internal_thoughts>")[1]


def wrap(t: str, s: str) -> str:
    return f"<internal_thoughts>{t}</internal_thoughts><external_solution>{s}</external_solution>"


EXPECTED = {  # seed 7: checked by hand against the rules in docs/perturb.md
    ("digits", 0.5): [
        wrap("First, 7 apples.\n\nWait, 3 of them are gone.\n\nSo 4 remain.\n\nCheck: 10 + 3 = 12.", "There are 6 apples."),
        wrap("Let x be 2.5 km.\n\nHowever, the speed is 2.\n\nTime is 0.25 h.", "3 h"),
        turn(C)],
    ("keywords", 0.5): [
        wrap("First, 12 apples.\n\n3 of them are gone.\n\nSo 9 remain.\n\nCheck: 9 + 3 = 12.", "There are 9 apples."),
        wrap("Let x be 2.5 km.\n\nThe speed is 10.\n\nTime is 0.25 h.", "0.25 h"),
        turn(C)],
    ("shuffle", 1.0): [
        wrap("So 9 remain.\n\nFirst, 12 apples.\n\nCheck: 9 + 3 = 12.\n\nWait, 3 of them are gone.", "There are 9 apples."),
        wrap("Time is 0.25 h.\n\nLet x be 2.5 km.\n\nHowever, the speed is 10.", "0.25 h"),
        wrap("Line three.\nLine one.\nLine two.", "3")],
    ("shuffle", 0.5): [
        wrap("First, 12 apples.\n\nSo 9 remain.\n\nWait, 3 of them are gone.\n\nCheck: 9 + 3 = 12.", "There are 9 apples."),
        wrap("However, the speed is 10.\n\nLet x be 2.5 km.\n\nTime is 0.25 h.", "0.25 h"),
        wrap("Line two.\nLine one.\nLine three.", "3")],
    ("delete", 0.5): [
        wrap("Wait, 3 of them are gone.\n\nCheck: 9 + 3 = 12.", "There are 9 apples."),
        wrap("Let x be 2.5 km.", "0.25 h"),
        wrap("Line one.", "3")],
    ("insert", 0.5): [
        wrap("First, 12 apples.\n\nTime is 0.25 h.\n\nWait, 3 of them are gone.\n\nSo 9 remain.\n\n"
             "Line one.\nLine two.\nLine three.\n\nCheck: 9 + 3 = 12.", "There are 9 apples."),
        wrap("Let x be 2.5 km.\n\nCheck: 9 + 3 = 12.\n\nHowever, the speed is 10.\n\nTime is 0.25 h.\n\n"
             "Line one.\nLine two.\nLine three.", "0.25 h"),
        wrap("Line one.\nFirst, 12 apples.\nLine two.\nLine three.\nHowever, the speed is 10.", "3")],
}


@pytest.mark.parametrize("kind,ratio", list(EXPECTED))
def test_exact_output_for_a_fixed_seed(kind, ratio):
    before = copy.deepcopy(ROWS)
    out, report = perturb(ROWS, kind, ratio, 7)
    assert [turn(r) for r in out] == EXPECTED[(kind, ratio)]
    assert ROWS == before  # the input rows are not modified
    for old, new in zip(ROWS, out):  # every other message and key as it was
        assert new["id"] == old["id"] and new["messages"][:-1] == old["messages"][:-1]
    assert report.rows == 3
    assert report.changed == sum(turn(o) != turn(n) for o, n in zip(ROWS, out))


def test_reports_count_what_changed():
    assert perturb(ROWS, "digits", 0.5, 7)[1].details == {"numbers": 12, "numbers_replaced": 6}
    rep = perturb(ROWS, "keywords", 0.5, 7)[1]
    assert rep.details == {"keywords": 2, "keywords_removed": 2, "removed:however": 1, "removed:wait": 1}
    assert rep.skipped == [{"row": 2, "reason": "no keywords"}]
    rep = perturb(ROWS, "shuffle", 0.5, 7)[1]
    assert rep.details == {"steps": 10, "steps_moved": 6, "unit_line": 1, "unit_paragraph": 2}
    assert rep.changed == 3 and rep.skipped == []


def test_digits_replace_numbers_only():
    text = "<internal_thoughts>x1 = 3.75, 2x2 grid; 100 and 7.</internal_thoughts>1e5 or 42"
    rows = [{"messages": [{"role": "assistant", "content": text}]}]
    for seed in range(20):
        out = turn(perturb(rows, "digits", 1.0, seed)[0][0])
        assert NUMBER.split(out)[0::2] == NUMBER.split(text)[0::2]  # every other character unchanged
        assert all(0 <= int(m.group(0)) <= 10 for m in NUMBER.finditer(out))
    assert perturb(rows, "digits", 1.0, 0)[1].details == {"numbers": 4, "numbers_replaced": 4}  # 3.75, 100, 7, 42
    assert turn(perturb(rows, "digits", 0.0, 0)[0][0]) == text


def test_digits_at_a_smaller_ratio_change_a_subset_with_the_same_values():
    low, high = (turn(perturb([A], "digits", r, 3)[0][0]) for r in (0.3, 0.8))
    pieces = [NUMBER.findall(t) for t in (turn(A), low, high)]
    assert len({len(p) for p in pieces}) == 1
    numbers = [m.group(0) for m in NUMBER.finditer(turn(A))]
    lo, hi = ([m.group(0) for m in NUMBER.finditer(t)] for t in (low, high))
    for orig, a, b in zip(numbers, lo, hi):
        assert a == orig or a == b


@pytest.mark.parametrize("text,expected", [
    ("So x = 2. Wait, let me check: x = 3.", "So x = 2. x = 3."),  # rule 1, and rule 3 leaves a variable
    ("Wait, let me see the clue.", "The clue."),  # rule 3 capitalises a word
    ("The result holds, however.", "The result holds."),  # rule 2
    ("It is 4, however, not 5", "It is 4, not 5"),  # mid-sentence: the comma after goes
    ("A is 1.\nHmm.\nB is 2.", "A is 1.\nB is 2."),  # rule 4: an emptied line goes
    ("A is 1.\n\nWait.\n\nB is 2.", "A is 1.\n\nB is 2."),  # a paragraph of one keyword goes
    ("Alternatively... but WAIT, no.", "No."),  # longest phrase first, any case
    ("Awaiting the hmmm result", "Awaiting the hmmm result"),  # whole words only
    ("Done. However", "Done."),  # rule 5
])
def test_keywords_removed_and_tidied(text, expected):
    out = perturb([row(text, "However, 4.")], "keywords", 1.0, 0)[0][0]
    assert thoughts(out) == expected
    assert solution(out) == solution(row(text, "However, 4."))  # the solution keeps its keywords


def test_keywords_each_occurrence_drawn_with_probability_ratio():
    text = " ".join(["Wait, step."] * 400)
    got = perturb([row(text, "4")], "keywords", 0.25, 11)[1].details["keywords_removed"]
    assert 70 <= got <= 130  # binomial(400, 0.25): mean 100, sd 8.7


def _steps(r: dict) -> list[str]:
    s = split_steps(thoughts(r))
    return s.steps if s else [thoughts(r)]


@pytest.mark.parametrize("ratio", [0.2, 0.33, 0.5, 0.67, 1.0])
def test_structure_invariants(ratio):
    shuffled, rep = perturb(ROWS, "shuffle", ratio, 5)
    for old, new in zip(ROWS, shuffled):
        assert Counter(_steps(new)) == Counter(_steps(old))  # the same multiset of steps
        assert solution(new) == solution(old)
    deleted, rep = perturb(ROWS, "delete", ratio, 5)
    for old, new in zip(ROWS, deleted):
        n = len(_steps(old))
        left = _steps(new) if thoughts(new) else []
        assert len(left) == n - share(ratio, n)  # round(ratio x steps) removed, halves up
        it = iter(_steps(old))
        assert all(step in it for step in left)  # the rest in their order
        assert solution(new) == solution(old)
    inserted, rep = perturb(ROWS, "insert", ratio, 5)
    for i, (old, new) in enumerate(zip(ROWS, inserted)):
        mine, got = _steps(old), _steps(new)
        extra = Counter(got) - Counter(mine)
        assert sum(extra.values()) == share(ratio, len(mine))
        donors = {s for j, r in enumerate(ROWS) if j != i for t in [thoughts(r)]
                  for s in re.split(r"\n\s*\n" if "\n\n" in thoughts(old) else r"\n", t)}
        assert set(extra) <= donors  # inserted steps come from other rows
        assert solution(new) == solution(old)


def test_steps_deleted_at_a_smaller_ratio_are_among_those_deleted_at_a_larger_one():
    rows = [row("\n\n".join(f"Step {i}." for i in range(9)), "9")]
    kept = [set(_steps(perturb(rows, "delete", r, 4)[0][0])) for r in (0.2, 0.5, 0.8)]
    assert kept[0] > kept[1] > kept[2] and len(kept[2]) == 2


def test_shuffle_moves_every_chosen_step_and_one_chosen_step_becomes_two():
    out, rep = perturb([A], "shuffle", 0.25, 1)  # share(0.25, 4) = 1: raised to 2, which swap
    moved = [a != b for a, b in zip(_steps(A), _steps(out[0]))]
    assert sum(moved) == 2 and rep.details["steps_moved"] == 2


def test_step_units_fall_back_from_paragraphs_to_lines_to_sentences():
    one_line = row("Clue 1 holds. Clue 2 holds. So House 1 is Ann.", "{}")
    rows = [one_line, row("Only one sentence here", "1"), row("", "2"), C]
    out, rep = perturb(rows, "delete", 0.34, 0)
    assert thoughts(out[0]) in {"Clue 2 holds. So House 1 is Ann.", "Clue 1 holds. So House 1 is Ann.",
                                "Clue 1 holds. Clue 2 holds."}
    assert rep.skipped == [{"row": 1, "reason": "one step"}, {"row": 2, "reason": "no thoughts"}]
    assert rep.details == {"steps": 6, "steps_deleted": 2, "unit_line": 1, "unit_sentence": 1}
    assert turn(out[1]) == turn(rows[1]) and turn(out[2]) == turn(rows[2])  # kept, not dropped


def test_ratio_that_rounds_to_no_step_is_reported():
    rep = perturb([C], "delete", 0.1, 0)[1]
    assert rep.changed == 0 and rep.skipped == [{"row": 0, "reason": "ratio x steps rounds to 0"}]


def test_insert_without_other_rows_is_skipped():
    rep = perturb([A], "insert", 0.5, 0)[1]
    assert rep.skipped == [{"row": 0, "reason": "no other row to draw steps from"}]


@pytest.mark.parametrize("preset,text", [
    ("think", "<think>Step 1.\n\nStep 2.\n\nStep 3.</think>\nThe answer is 3."),
    ("sky-t1", "<|begin_of_thought|>\n\nStep 1.\n\nStep 2.\n\nStep 3.\n\n<|end_of_thought|>\n\n"
               "<|begin_of_solution|>\n\nThe answer is 3.\n\n<|end_of_solution|>"),
])
def test_other_presets_keep_their_delimiters_and_solution(preset, text):
    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}]}]
    out = turn(perturb(rows, "delete", 0.34, 2, thoughts=preset)[0][0])
    kept = [s for s in ("Step 1.", "Step 2.", "Step 3.") if s in out]
    assert len(kept) == 2
    assert out == text.replace(next(s for s in ("Step 1.\n\n", "\n\nStep 2.", "\n\nStep 3.")
                                    if s.strip() not in kept), "", 1)


@pytest.mark.parametrize("kind,ratio,thoughts_preset,message", [
    ("digts", 0.5, "bolt", "did you mean 'digits'"),
    ("digits", 1.5, "bolt", "outside 0..1"),
    ("digits", -0.1, "bolt", "outside 0..1"),
    ("shuffle", 0.5, "none", "--thoughts none has none"),
    ("wrong-answers", 0.5, "bolt", "needs --pool"),
])
def test_bad_arguments(kind, ratio, thoughts_preset, message):
    with pytest.raises(UserError, match=re.escape(message)):
        perturb(ROWS, kind, ratio, 0, thoughts=thoughts_preset)


def test_rows_without_the_presets_delimiters_are_refused():
    with pytest.raises(UserError, match=r"row 1: the assistant turn has no <think>\.\.\.</think>"):
        perturb([{"messages": [{"role": "assistant", "content": "<think>a</think>b"}]}, A], "digits", 0.5, 0,
                thoughts="think")
    with pytest.raises(UserError, match="row 0: no assistant turn"):
        perturb([{"messages": [{"role": "user", "content": "q"}]}], "digits", 0.5, 0)


def test_every_kind_is_known():
    assert KINDS == ("wrong-answers", "digits", "keywords", "shuffle", "delete", "insert")
