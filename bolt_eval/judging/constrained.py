"""Verdicts from local judges, constrained to the template's allowed verdicts.

A small local judge (hf, vllm, vllm-serve) often reasons well enough but never writes its
verdict in the official form ("[[7]]", "[[A>B]]", {"score": "7"}). Such a reply is not
asked again freely; the judge is asked for the verdict itself, constrained: its own reply is
continued with the template's verdict prefix ("Rating: [[") and the verdict is the allowed
continuation ("1]]" .. "10]]") the model itself prefers. On hf the choice is the argmax of
the continuations' log-likelihoods (as lm-eval scores multiple choice), scored right after
the free reply on the KV cache it left (`Request.followup`; a reply stored by an earlier run
is scored on a fresh prefill, to the same values); on vLLM it comes from structured outputs
(guided choice, `extra_body` for a served model). The ledger row
keeps the free reply as `raw`, the verdict text as `verdict_text` and `method` =
"constrained"; its verdict is what the official parser reads in that verdict text, so the
scorer downstream sees the same verdicts as from a judge that wrote them itself.

`--judge-expected-score`: for grades (MT-Bench 1-10, WB-Score 1-10) the probability of each
allowed grade, normalised over the allowed set, gives an expected grade (G-Eval, Liu et al.,
2023, "NLG Evaluation using GPT-4 with Better Human Alignment", section 2.3), reported as a
separate metric beside the official one. For a free verdict the grades are scored where the
judge wrote its own ("... [[" cut before the digits), for a constrained one after the prefix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bolt_eval.backends.base import ChoiceRequest
from bolt_eval.judging.parsers import PARSERS

SEPARATOR = "\n\n"  # between the judge's free reply and the verdict prefix


@dataclass(frozen=True)
class Allowed:
    """The verdicts a template allows, as continuations of its verdict prefix."""

    prefix: str  # how the template asks the verdict to begin
    choices: tuple[str, ...]  # the allowed continuations, one per verdict
    suffix: str = ""  # closes the verdict text after the choice (not scored)
    grades: tuple[float, ...] | None = None  # the grade of each choice (grade templates only)
    opening: str | None = None  # a regex: where a free verdict's choice begins (just after its match)

    def text(self, index: int) -> str:
        """The verdict text of one choice, as the official parser reads it."""
        return self.prefix + self.choices[index] + self.suffix

    def request(self, messages: tuple[dict[str, str], ...], reply: str) -> ChoiceRequest:
        """Continue the judge's own reply with the verdict prefix."""
        return ChoiceRequest(messages, reply + SEPARATOR + self.prefix, self.choices)

    def grade_request(self, messages: tuple[dict[str, str], ...], raw: str, method: str) -> ChoiceRequest:
        """Where to score the grades for the expected score: a free verdict where the judge
        began writing it, a constrained one (or a free one of another form) after the prefix."""
        match = re.search(self.opening, raw) if self.opening and method == "free" else None
        if match:
            return ChoiceRequest(messages, raw[:match.end()], self.choices)
        return self.request(messages, raw)


_GRADES = tuple(float(g) for g in range(1, 11))

# Keyed by parser name: what the official templates of each parser ask for.
ALLOWED: dict[str, Allowed] = {
    # MT-Bench single grading (FastChat judge_prompts.jsonl): 'strictly following this format:
    # "[[rating]]", for example: "Rating: [[5]]"'.
    "rating": Allowed("Rating: [[", tuple(f"{g}]]" for g in range(1, 11)), grades=_GRADES, opening=r"\[\[(?=\d)"),
    # MT-Bench pairwise (FastChat pair-v2): "[[A]]", "[[B]]", "[[C]]" for a tie.
    "pair": Allowed("My final verdict is: [[", ("A]]", "B]]", "C]]")),
    # Arena-Hard (arena-hard-auto judge prompts): 'Example output: "My final verdict is tie: [[A=B]]"'.
    "arena": Allowed("My final verdict is: [[", ("A>>B]]", "A>B]]", "A=B]]", "B>A]]", "B>>A]]")),
    # WildBench v2 score template: a JSON object with "score": "[1~10]".
    "wb_score": Allowed('{"score": "', tuple(f'{g}"' for g in range(1, 11)), suffix="}", grades=_GRADES,
                        opening=r'"score"\s*:\s*"(?=\d)'),
    # WildBench v2 pairwise template: "choice": "[A++ or A+ or A=B or B+ or B++]".
    "wb_choice": Allowed('{"choice": "', tuple(f'{c}"' for c in ("A++", "A+", "A=B", "B+", "B++")), suffix="}"),
}


def allowed_for(parser: str) -> Allowed | None:
    """The allowed verdicts of a parser's templates; None for a parser that has none here."""
    return ALLOWED.get(parser.partition("@")[0])


def verdict(parser: str, index: int) -> tuple[Any, str]:
    """(verdict as the official parser reads it, verdict text) of one allowed choice."""
    allowed = ALLOWED[parser]
    text = allowed.text(index)
    return PARSERS[parser].parse(text), text


def expected_grade(parser: str, logprobs: dict[str, float] | None) -> float | None:
    """The probability-weighted mean of the allowed grades (probabilities normalised over
    the allowed set); None for a parser without grades or a judgment never scored."""
    allowed = allowed_for(parser)
    if not logprobs or allowed is None or allowed.grades is None:
        return None
    values = [logprobs[c] for c in allowed.choices]
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    return round(sum(w * g for w, g in zip(weights, allowed.grades)) / sum(weights), 6)


def with_grade(verdict_value: Any, grade: float) -> Any:
    """A verdict with its grade replaced (a WB-Score object keeps its other fields)."""
    return {**verdict_value, "score": grade} if isinstance(verdict_value, dict) else grade


def method_note(coverage: dict[str, Any] | None) -> str:
    """" (5/8 constrained)" when some verdicts were constrained, for tables beside the judge."""
    by_method = (coverage or {}).get("by_method") or {}
    n = by_method.get("constrained", 0)
    return f" ({n}/{sum(by_method.values())} constrained)" if n else ""


def expected_records(records: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Copies of judged records whose graded verdicts are their expected grades; None when
    no judgment holds one (nothing graded, or the judge scored nothing)."""
    found = False
    out = []
    for r in records:
        outputs = []
        for o in r["outputs"]:
            judgments = {}
            for name, j in o.get("judgments", {}).items():
                if j.get("status") == "ok" and j.get("expected") is not None:
                    j = {**j, "verdict": with_grade(j["verdict"], j["expected"])}
                    found = True
                judgments[name] = j
            outputs.append({**o, "judgments": judgments})
        out.append({**r, "outputs": outputs})
    return out if found else None
