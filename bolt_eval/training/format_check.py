"""The long-CoT format check: is a response internal thoughts, closed, then an external solution?

One rule set serves three callers: stage 1's filter of bootstrapped samples, stage 3's
rule-based format reward (BOLT, Pang et al., arXiv 2502.03860, Sec. 2.3), and the training
reports, so that what is kept, what is rewarded and what is counted agree. The response is
cut with the harness's own `thoughts.split_response`, the same cut evaluation makes.

A response fails on the first rule it breaks, so each rejection has exactly one reason and
the counts by reason add up to the rejections. The rules, in the order they are checked:

    hit_token_limit     generation stopped at the token limit (when `rules.require_stop`)
    no_thoughts         the opening thoughts tag is missing (a response that only closes
                        thoughts teaches a format without an opening; the harness's split
                        tolerates that for chat templates that insert the tag, training does not)
    thoughts_unclosed   thoughts open but never close: there is no external solution
    empty_solution      nothing after the thoughts
    tags_in_solution    a tag of the preset inside the solution (a second thought block, a
                        repeated or nested solution)
    thoughts_too_short / thoughts_too_long / solution_too_short / solution_too_long
                        character limits of the recipe's `FormatRules`
"""

from __future__ import annotations

from dataclasses import dataclass

from bolt_eval.thoughts import Delimiters, split_response
from bolt_eval.training.recipe import FormatRules

REASONS = (
    "hit_token_limit", "no_thoughts", "thoughts_unclosed", "empty_solution", "tags_in_solution",
    "thoughts_too_short", "thoughts_too_long", "solution_too_short", "solution_too_long",
)


@dataclass(frozen=True)
class FormatVerdict:
    ok: bool
    reason: str | None  # one of REASONS when not ok
    thoughts: str | None
    solution: str


def check_format(response: str, finish_reason: str, delims: Delimiters, rules: FormatRules) -> FormatVerdict:
    """Check one response against `rules`; `delims` is a thoughts preset with tags."""
    split = split_response(response, delims)

    def verdict(reason: str | None) -> FormatVerdict:
        return FormatVerdict(reason is None, reason, split.thoughts, split.solution)

    if rules.require_stop and finish_reason == "length":
        return verdict("hit_token_limit")
    if delims.thought_open not in response:
        return verdict("no_thoughts")
    if not split.thoughts_closed:
        return verdict("thoughts_unclosed")
    if not split.solution:
        return verdict("empty_solution")
    tags = [t for t in (delims.thought_open, delims.thought_close, delims.solution_open, delims.solution_close) if t]
    if any(t in split.solution for t in tags):
        return verdict("tags_in_solution")
    thoughts = split.thoughts or ""
    for name, text, low, high in (("thoughts", thoughts, rules.min_thought_chars, rules.max_thought_chars),
                                  ("solution", split.solution, rules.min_solution_chars, rules.max_solution_chars)):
        if len(text) < low:
            return verdict(f"{name}_too_short")
        if high is not None and len(text) > high:
            return verdict(f"{name}_too_long")
    return verdict(None)
