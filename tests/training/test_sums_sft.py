"""The two-digit sums of the tiny math recipe: the committed files are what the writer makes,
no sum is in two of them, and every SFT trace passes the format rules and is scored right
by the MATH500 verifier the recipe's ORM uses."""

from __future__ import annotations

import json
from pathlib import Path

from sums_sft import FILES, columns, trace, write_all

from bolt_eval.benchmarks.math500 import check, extract_answer
from bolt_eval.thoughts import get_delimiters
from bolt_eval.training.format_check import check_format
from bolt_eval.training.recipe import FormatRules

ROOT = Path(__file__).resolve().parents[2]


def operands(text: str) -> tuple[str, str]:
    """("47", "38") from a problem or prompt ending "What is $47 + 38$?"."""
    a, b = text.rsplit("$", 2)[-2].split(" + ")
    return a, b


def test_committed_files_are_what_the_writer_makes_and_share_no_sum(tmp_path: Path) -> None:
    assert write_all(tmp_path) == FILES
    sums = []
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes(), name
        for line in (ROOT / name).read_text().splitlines():
            row = json.loads(line)
            text = row["messages"][0]["content"] if "messages" in row else row["problem"]
            sums.append("+".join(sorted(operands(text))))  # 38 + 47 is 47 + 38
    assert len(sums) == len(set(sums)) == sum(FILES.values())


def test_columns_carry_when_the_ones_pass_nine() -> None:
    assert columns(47, 38) == "Ones: 7 + 8 = 15, write 5, carry 1. Tens: 4 + 3 + 1 = 8."
    assert columns(50, 88) == "Ones: 0 + 8 = 8. Tens: 5 + 8 = 13."


def test_every_trace_keeps_the_format_and_boxes_the_right_sum() -> None:
    delims = get_delimiters("bolt")
    for line in (ROOT / "training" / "queries" / "tiny-sums-sft.jsonl").read_text().splitlines():
        user, assistant = json.loads(line)["messages"]
        a, b = (int(x) for x in operands(user["content"]))
        verdict = check_format(assistant["content"], "stop", delims, FormatRules())
        assert verdict.ok, verdict.reason
        answer, how = extract_answer(verdict.solution)
        assert how == "boxed" and check(answer, str(a + b))["correct"]
    assert trace(99, 99).count("carry 1") == 2 and "$\\boxed{198}$" in trace(99, 99)
