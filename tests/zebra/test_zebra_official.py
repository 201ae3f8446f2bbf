"""ZebraLogic answers read as ZeroEval reads them, at commit 8c1485e (WildEval/ZeroEval,
2025-04-14): src/evaluation/eval_utils.py `extract_last_complete_json`, copied below verbatim
as the reference, and zebra_grid_eval.py's filter (a non-null "solution"). The official
reading is the headline; the lenient one, a second metric, finds what it misses."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, bolt

from bolt_eval.zebra.grading import grade, parse_answer, parse_answer_official

SOLUTION = {"header": ["House", "Name", "Pet"], "rows": [["1", "Alice", "cat"], ["2", "Bob", "dog"]]}
RIGHT = {"House 1": {"Name": "Alice", "Pet": "cat"}, "House 2": {"Name": "Bob", "Pet": "dog"}}
ANSWER = json.dumps({"reasoning": "Clue 1 puts Alice first.", "solution": RIGHT}, indent=4)


def extract_last_complete_json(s):
    """ZeroEval eval_utils.py at 8c1485e, verbatim."""
    # Stack to keep track of opening and closing braces
    stack = []
    last_json_start = None
    last_json_str = None

    for i, char in enumerate(s):
        if char == '{':
            stack.append(i)
            if last_json_start is None:
                last_json_start = i
        elif char == '}':
            if stack:
                start = stack.pop()
                if not stack:
                    # Complete JSON object found
                    last_json_str = s[last_json_start:i+1]
                    last_json_start = None

    # Load the last JSON object
    if last_json_str:
        try:
            return json.loads(last_json_str.replace("\n", ""))
        except json.JSONDecodeError:
            pass

    return None


def upstream(text):
    """zebra_grid_eval.py: the prediction kept when it is a dict with a non-null solution."""
    p = extract_last_complete_json(text)
    return p if p is not None and "solution" in p and p["solution"] is not None else None


REPLIES = {
    "fenced after prose with balanced braces": ("Think {step by step}.\n```json\n" + ANSWER + "\n```\nDone.", True, True),
    "an unmatched brace in the reasoning": ("Houses {1, 2 could hold Bob... " + ANSWER, False, True),
    "a braced note after the answer": (ANSWER + "\nNote: {this is my final grid}", False, True),
    "raw newlines inside a string": ('{"reasoning": "line one\nline two", "solution": ' + json.dumps(RIGHT) + "}", True, True),
    "a null solution": (json.dumps({"reasoning": "?", "solution": None}), False, False),
    "no JSON at all": ("I could not solve it.", False, False),
    "a trailing comma": ('{"solution": {"House 1": {"Name": "Alice",}}}', False, False),
}


@pytest.mark.parametrize("name", REPLIES)
def test_official_extraction_matches_zeroeval(name):
    text, official_finds, lenient_finds = REPLIES[name]
    assert parse_answer_official(text) == upstream(text)
    assert (parse_answer_official(text) is not None) is official_finds
    assert grade(SOLUTION, parse_answer(text)).parsed is lenient_finds


def test_the_two_answers_last_one_wins_in_both_readings():
    first = json.dumps({"solution": {**RIGHT, "House 2": {"Name": "Bob", "Pet": "cat"}}})
    text = first + "\nCorrection:\n" + ANSWER
    assert grade(SOLUTION, parse_answer_official(text)).solved and grade(SOLUTION, parse_answer(text)).solved


def test_the_task_reports_both_readings(tmp_path):
    """Eight smoke puzzles answered right, but two with a stray "{" before the answer: the
    headline (official) counts those two unanswered, the lenient metric solves all eight."""
    smoke = ROOT / "tasks" / "zebralogic" / "smoke.jsonl"
    records = [json.loads(line) for line in smoke.read_text().splitlines()]
    texts = []
    for i, r in enumerate(records):
        header, rows = r["solution"]["header"], r["solution"]["rows"]
        body = json.dumps({"solution": {f"House {row[0]}": dict(zip(header[1:], row[1:])) for row in rows}})
        texts.append(("Say {House 1 ... " if i < 2 else "") + body)
    replay = tmp_path / "answers.jsonl"
    replay.write_text("".join(json.dumps({"id": r["id"], "response": t}) + "\n" for r, t in zip(records, texts)))
    out = bolt("run", "--backend", "replay", "--model", str(replay), "--tasks", "zebralogic", "--data", str(smoke),
               "--out", str(tmp_path / "res"), "--no-progress")
    assert out.returncode == 0, out.stderr
    (run,) = (tmp_path / "res").iterdir()
    m = json.loads((run / "summary.json").read_text())["metrics"]
    assert m["puzzle_accuracy"]["mean"] == 6 / 8 and m["no_answer_rate"] == 2 / 8
    assert m["lenient"]["puzzle_accuracy"]["mean"] == 1.0 and m["lenient"]["no_answer_rate"] == 0.0
    cells = [len(r["solution"]["rows"]) * (len(r["solution"]["header"]) - 1) for r in records]
    assert m["cell_accuracy"]["mean"] == round(sum(cells[2:]) / sum(cells), 6)
