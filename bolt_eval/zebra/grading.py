"""Reading a model's ZebraLogic answer and scoring it cell by cell.

Scoring mirrors the official scorer (WildEval/ZeroEval src/evaluation/zebra_grid_eval.py):
the truth table is keyed "House 1".."House N" (row order of solution.rows) and by the
exact header names; a cell counts when the predicted value, lower-cased and stripped,
equals the truth lower-cased and stripped; a list counts by its first element; a
missing house, missing attribute, None or empty value is wrong; an answer without a
"solution" adds all its cells with none correct; a puzzle is solved when every cell is.
Unlike the official scorer, a number is compared as its text and an unknown type counts
as wrong instead of crashing.

Two readings of an answer, both scored:

- `parse_answer_official` (the headline): ZeroEval's `extract_last_complete_json`
  (src/evaluation/eval_utils.py at 8c1485e) and zebra_grid_eval.py's filter: the last
  top-level brace-balanced span, newlines deleted, json.loads, kept if it has a non-null
  "solution". An unmatched "{" anywhere before the answer keeps the braces from ever
  balancing again, so the answer is not found; nor is one whose span fails to decode.
- `parse_answer` (the `lenient` metric): every "{" tried from the end of the text, the
  last object that decodes (raw newlines inside strings allowed) and has a "solution" key
  wins, so code fences, prose around it, a stray "{" in the reasoning or a second
  brace-balanced span after the answer do not lose it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings


@dataclass(frozen=True)
class GradeResult:
    """The score of one answer: cells right out of cells in the grid."""

    cells_total: int
    cells_correct: int
    solved: bool
    parsed: bool

    @property
    def cell_accuracy(self) -> float:
        return self.cells_correct / self.cells_total if self.cells_total else 0.0


def parse_answer(text: str) -> dict[str, Any] | None:
    """The last JSON object in `text` that has a "solution" key, or None."""
    start = text.rfind("{")
    while start >= 0:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and "solution" in value:
            return value
        start = text.rfind("{", 0, start)
    return None


def parse_answer_official(text: str) -> dict[str, Any] | None:
    """ZeroEval's extraction, as its scorer applies it: None when it finds no answer."""
    stack: list[int] = []
    start: int | None = None
    last: str | None = None
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
            if start is None:
                start = i
        elif char == "}" and stack:
            stack.pop()
            if not stack:
                last, start = text[start:i + 1], None
    if not last:
        return None
    try:
        value = json.loads(last.replace("\n", ""))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and value.get("solution") is not None else None


def grade(puzzle_solution: dict[str, Any], parsed: dict[str, Any] | None) -> GradeResult:
    """Score `parsed` (from parse_answer) against a solution {"header", "rows"}."""
    header = puzzle_solution["header"]
    rows = puzzle_solution["rows"]
    total = len(rows) * (len(header) - 1)
    table = parsed.get("solution") if isinstance(parsed, dict) else None
    if table is None:
        return GradeResult(total, 0, False, False)
    correct = 0
    for h, row in enumerate(rows, start=1):
        house = table.get(f"House {h}") if isinstance(table, dict) else None
        if not isinstance(house, dict):
            continue
        for column, truth in zip(header[1:], row[1:]):
            predicted = _cell_text(house.get(column))
            if predicted and predicted.strip().lower() == truth.strip().lower():
                correct += 1
    return GradeResult(total, correct, correct == total, True)


def _cell_text(value: Any) -> str | None:
    """A predicted cell as text: lists by their first element, numbers as written."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None
