import json

import pytest
from conftest import MATH_FIXTURE

from bolt_eval.benchmarks.math500 import Math500, check, extract_answer
from bolt_eval.types import Sample, UserError


@pytest.mark.parametrize("text, expected", [
    ("so \\boxed{\\frac{1}{2}}", ("\\frac{1}{2}", "boxed")),
    ("first \\boxed{1}, finally \\boxed{x^{2}+\\sqrt{y}}", ("x^{2}+\\sqrt{y}", "boxed")),
    ("\\fbox{7}", ("7", "boxed")),
    ("The result is $\\boxed 5$.", ("5", "boxed")),
    ("The final answer is:\n\n$2+3 = 5$", ("5", "answer_phrase")),
    ("Answer: \\frac{6}{64}.", ("\\frac{6}{64}", "answer_phrase")),
    ("I get 3 and then 42 apples", ("42", "last_number")),
    ("Find the answer: To find the answer, you can multiply $2+3$ by 4", ("4", "last_number")),
    ("The answer is \\text{Evelyn}.", ("\\text{Evelyn}", "answer_phrase")),
    ("The answer is 12 square units", ("12 square units", "answer_phrase")),
    ("no idea", (None, "none")),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("pred, ref, correct, mv, string", [
    ("0.75", "\\frac{3}{4}", True, True, False),
    ("\\dfrac{3}{4}", "\\frac{3}{4}", True, True, True),
    ("[1,3)", "[1,3)", True, True, True),
    ("(1,3]", "[1,3)", False, False, False),
    ("70", "70^\\circ", True, True, True),
    ("2\\sqrt{5}", "\\sqrt{20}", True, True, False),
    ("Wednesday", "\\text{Wednesday}", True, True, False),
    ("\\", "\\", True, None, True),  # math-verify parses nothing: the string check decides
    ("(x+1)^2", "x^2+2x+1", True, True, False),
    ("7", "5", False, False, False),
])
def test_check_records_both_checkers(pred, ref, correct, mv, string):
    out = check(pred, ref)
    assert (out["correct"], out["math_verify"], out["string_match"]) == (correct, mv, string)
    assert out["decided_by"] == ("string" if mv is None else "math_verify")


def test_no_answer_is_wrong_not_missing():
    assert check(None, "5") == {"math_verify": None, "string_match": False, "decided_by": "no_answer", "correct": False}


def test_fixture_covers_answer_types_and_every_answer_verifies():
    task = Math500(data=str(MATH_FIXTURE))
    ds = task.load()
    assert len(ds.samples) >= 30 and ds.source == f"file:{MATH_FIXTURE}"
    assert len({s.reference["subject"] for s in ds.samples}) == 7
    for s in ds.samples:
        ref = s.reference["answer"]
        assert task.score(s, [f"Thus the answer is $\\boxed{{{ref}}}$."])["correct"], s.id
        assert not task.score(s, ["\\boxed{123456789}"])["correct"], s.id


def test_aggregate_by_subject_and_level():
    task = Math500()
    samples = [Sample(str(i), ("q",), {"answer": "1", "subject": subj, "level": lvl})
               for i, (subj, lvl) in enumerate([("Algebra", 1), ("Algebra", 2), ("Geometry", 2), ("Geometry", 2)])]
    correct = [True, False, True, True]
    records = [{"id": s.id, "outputs": [{"score": {"correct": c, "extraction": "boxed", "math_verify": c,
                                                   "string_match": c},
                                         "turns": [{"thoughts_closed": True}]}]}
               for s, c in zip(samples, correct)]
    m = task.aggregate(samples, records)
    assert m["accuracy"]["mean"] == 0.75
    assert {k: v["mean"] for k, v in m["by_subject"].items()} == {"Algebra": 0.5, "Geometry": 1.0}
    assert {k: (v["mean"], v["n"]) for k, v in m["by_level"].items()} == {"1": (1.0, 1), "2": (0.666667, 3)}
    assert m["no_boxed_rate"] == 0 and m["checker_disagreements"] == 0


ROW = {"problem": "p", "answer": "1", "subject": "Algebra", "level": 1, "unique_id": "a"}


@pytest.mark.parametrize("lines, message", [
    ([json.dumps(ROW), "{not json"], "line 2: invalid JSON"),
    ([json.dumps({k: v for k, v in ROW.items() if k != "answer"})], "line 1: field 'answer' missing"),
    ([json.dumps({**ROW, "level": "5"})], "line 1: field 'level' must be int, got str"),
    ([json.dumps(ROW), json.dumps(ROW)], "line 2: duplicate id 'a' (first at"),
    (["", "  "], "the file has no records"),
])
def test_bad_data_names_file_line_and_field(tmp_path, lines, message):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError) as err:
        Math500(data=str(path)).load()
    assert str(path) in str(err.value) and message in str(err.value)


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(json.dumps(ROW).encode() + b"\n{\"problem\": \"\xff\"}\n")
    with pytest.raises(UserError, match="line 2: not valid UTF-8"):
        Math500(data=str(path)).load()


def test_hub_unreachable_names_data_flag():
    with pytest.raises(UserError, match="Pass a local copy with --data FILE.jsonl"):
        Math500().load()
