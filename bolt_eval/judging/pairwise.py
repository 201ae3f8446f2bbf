"""Pairwise judging with position swap: every comparison is asked twice, once with each
answer first, because LLM judges favour a position (Zheng et al., 2023, section 3.3).

`swapped_prompts` renders the two games; `combine` turns the two verdicts, each written in
the judge's A/B terms, into one outcome in the caller's terms (first vs second answer):
FastChat's rule for MT-Bench pairs, where two games that disagree make a tie.
Arena-Hard keeps both games as separate battles instead; see `arena_scores`.
"""

from __future__ import annotations

from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.judging.templates import Template

FLIP = {"A": "B", "B": "A", "tie": "tie",
        "A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}


def swapped_prompts(template: Template, first: str, second: str, **fields: str) -> tuple[JudgePrompt, JudgePrompt]:
    """(game 1: `first` as answer A, game 2: `second` as answer A). The template's answer
    slots are `answer_a` and `answer_b`."""
    return (template.render(answer_a=first, answer_b=second, **fields),
            template.render(answer_a=second, answer_b=first, **fields))


def combine(game1: str | None, game2: str | None) -> str | None:
    """One MT-Bench pair outcome, "first" | "second" | "tie", from verdicts "A" | "B" | "tie"
    of the two games; None when either game has no verdict (a failure, not a tie)."""
    if game1 is None or game2 is None:
        return None
    as_first = {"A": "first", "B": "second", "tie": "tie"}
    one, two = as_first[game1], as_first[FLIP[game2]]
    return one if one == two else "tie"


def arena_scores(game1: str | None, game2: str | None, weight: int = 3) -> list[float]:
    """Arena-Hard battles of the *first* answer against the second: each game with a verdict
    gives one or `weight` (strong verdicts, ">>") outcomes of 1 (win), 0.5 (tie) or 0 (loss).
    Game 2 is read after flipping it back to the first answer's side."""
    out: list[float] = []
    for label in (game1, FLIP[game2] if game2 else None):
        if label is None:
            continue
        value = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}[label]
        out += [value] * (weight if ">>" in label else 1)
    return out
