"""MATH500: 500 competition problems (Lightman et al., 2023, "Let's Verify Step by Step").

Scored exactly: the last \\boxed{} answer of the external solution is compared with the
reference by math-verify (symbolic equivalence, with a timeout) and by the normalising
string check of Hendrycks et al.'s MATH scorer (as lm-eval ships it). math-verify decides
when it can parse both sides; otherwise the string check does; both are recorded.
"""

from __future__ import annotations

import re
from typing import Any

from bolt_eval import stats
from bolt_eval.benchmarks.base import Rows, Task
from bolt_eval.jsonl import field
from bolt_eval.registry import benchmarks
from bolt_eval.types import Sample, UserError

HUB_ID = "HuggingFaceH4/MATH-500"
HUB_REVISION = "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be"
TEMPLATE = (
    "Solve the following math problem. Reason step by step, then give the final answer "
    "within \\boxed{{}}.\n\n{problem}"
)
VERIFY_TIMEOUT_S = 5
_ANSWER_PHRASE = re.compile(r"answer\s*(?:is|:)\s*:?", re.I)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")
_PROSE = re.compile(r"[A-Za-z]{2,}[,;]?\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}")  # three words in a row


def extract_answer(text: str) -> tuple[str | None, str]:
    """(answer, how): the last boxed answer, else an "answer is X" phrase, else the last
    number. `how` records which fallback produced it."""
    from lm_eval.tasks.hendrycks_math.utils import last_boxed_only_string

    boxed = last_boxed_only_string(text)
    if boxed:
        for head in ("\\boxed ", "\\boxed{", "\\fbox{"):
            if boxed.startswith(head):
                inner = boxed[len(head):]
                return (inner if head.endswith(" ") else inner[:-1]).strip(), "boxed"
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if phrases:
        answer = _first_expression(text[phrases[-1].end():])
        if answer:
            return answer, "answer_phrase"
    numbers = _NUMBER.findall(text)
    if numbers:
        return numbers[-1], "last_number"
    return None, "none"


def _first_expression(rest: str) -> str | None:
    """The first non-empty line after "answer is", without $ and a closing period; of an
    equation, the right-hand side ("$2+3 = 5$" -> "5"). A line of prose ("To find the answer,
    multiply $2+3$ by ...") is no answer: math-verify would read an expression out of it."""
    line = next((ln.strip() for ln in rest.splitlines() if ln.strip()), "")
    line = line.strip().rstrip(".").strip().strip("$").strip()
    if _PROSE.search(re.sub(r"\\[a-zA-Z]+(\{[^{}]*\})?", " ", line)):
        return None
    return line.rsplit("=", 1)[-1].strip() or None


def check(answer: str | None, reference: str) -> dict[str, Any]:
    """Compare an extracted answer with the reference both ways; say which decided."""
    from lm_eval.tasks.hendrycks_math.utils import is_equiv
    from math_verify import parse, verify

    if answer is None:
        return {"math_verify": None, "string_match": False, "decided_by": "no_answer", "correct": False}
    string_match = bool(is_equiv(answer, reference))
    gold = parse(f"${reference}$", parsing_timeout=VERIFY_TIMEOUT_S)
    pred = parse(f"${answer}$", parsing_timeout=VERIFY_TIMEOUT_S)
    mv: bool | None = None
    if gold and pred:
        mv = bool(verify(gold, pred, timeout_seconds=VERIFY_TIMEOUT_S))
    decided = "math_verify" if mv is not None else "string"
    return {"math_verify": mv, "string_match": string_match, "decided_by": decided,
            "correct": mv if mv is not None else string_match}


@benchmarks.register("math500")
class Math500(Task):
    version = "1"

    def official_rows(self) -> tuple[Rows, str, str]:
        return _load_hub()

    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        ref = {
            "answer": field(row, "answer", str, place),
            "subject": field(row, "subject", str, place),
            "level": field(row, "level", int, place),
        }
        return Sample(field(row, "unique_id", str, place), (field(row, "problem", str, place),), ref)

    def template_text(self) -> str:
        return TEMPLATE

    def prompt(self, sample: Sample, turn: int) -> str:
        return TEMPLATE.format(problem=sample.turns[0])

    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        answer, how = extract_answer(solutions[-1])
        return {"extracted": answer, "extraction": how, **check(answer, sample.reference["answer"])}

    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        scores = [[o["score"] for o in r["outputs"]] for r in records]
        acc = [sum(s["correct"] for s in ss) / len(ss) for ss in scores]
        flat = [s for ss in scores for s in ss]
        return {
            "accuracy": stats.bootstrap_mean(acc).to_dict(),
            "by_subject": {k: e.to_dict() for k, e in stats.grouped(acc, [s.reference["subject"] for s in samples]).items()},
            "by_level": {k: e.to_dict() for k, e in stats.grouped(acc, [s.reference["level"] for s in samples]).items()},
            "no_boxed_rate": round(sum(s["extraction"] != "boxed" for s in flat) / len(flat), 6),
            "checker_disagreements": sum(s["math_verify"] is not None and s["math_verify"] != s["string_match"] for s in flat),
            "unclosed_thoughts": sum(not t["thoughts_closed"] for r in records for o in r["outputs"] for t in o["turns"]),
        }

    def headline(self, summary: dict[str, Any]) -> tuple[str, stats.Estimate]:
        return "accuracy", stats.Estimate(**summary["accuracy"])

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per problem, the share of its outputs that are correct; the headline is their
        plain mean (every weight 1), as in `aggregate`."""
        return {r["id"]: sum(o["score"]["correct"] for o in r["outputs"]) / len(r["outputs"]) for r in records}


def _load_hub() -> tuple[Rows, str, str]:
    import datasets

    try:
        ds = datasets.load_dataset(HUB_ID, split="test", revision=HUB_REVISION)
    except Exception as err:  # offline, gated, or not cached: say how to go on
        raise UserError(
            f"math500: could not load {HUB_ID}@{HUB_REVISION[:8]} from the Hugging Face hub "
            f"({type(err).__name__}). Pass a local copy with --data FILE.jsonl "
            "(fields: problem, answer, subject, level, unique_id)"
        ) from err
    rows = [(f"{HUB_ID} row {i}", dict(r)) for i, r in enumerate(ds)]
    return rows, f"hub:{HUB_ID}@{HUB_REVISION}", ds._fingerprint
