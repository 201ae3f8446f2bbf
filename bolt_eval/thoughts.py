"""Split a long-CoT response into internal thoughts and the external solution.

Long-CoT models think before they answer; benchmarks score (and judges read) only the
answer. Each preset names the delimiters one model family uses. A response whose thoughts
open but never close has no external solution: it is recorded as such, not guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from bolt_eval.types import Split, UserError


@dataclass(frozen=True)
class Delimiters:
    thought_open: str
    thought_close: str
    solution_open: str | None = None
    solution_close: str | None = None


PRESETS: dict[str, Delimiters | None] = {
    # BOLT's (Pang et al., 2025) internal-thoughts / external-solution format, spelled as
    # this project's training stages write it (the paper publishes no token spelling).
    "bolt": Delimiters(
        "<internal_thoughts>",
        "</internal_thoughts>",
        "<external_solution>",
        "</external_solution>",
    ),
    "think": Delimiters("<think>", "</think>"),
    # Sky-T1 (NovaSky, 2025) begin/end-of-thought and -solution tags.
    "sky-t1": Delimiters(
        "<|begin_of_thought|>",
        "<|end_of_thought|>",
        "<|begin_of_solution|>",
        "<|end_of_solution|>",
    ),
    "none": None,
}


def get_delimiters(preset: str) -> Delimiters | None:
    if preset not in PRESETS:
        raise UserError(
            f"unknown --thoughts preset {preset!r}; choose one of {', '.join(PRESETS)}"
        )
    return PRESETS[preset]


def split_response(text: str, delims: Delimiters | None) -> Split:
    """Cut `text` at the delimiters. Without an opening thought tag the whole text is
    the solution. The solution tags, when the preset has them, are stripped if present."""
    if delims is None:
        return Split(thoughts=None, solution=text.strip(), thoughts_closed=True)
    start = text.find(delims.thought_open)
    close = text.find(delims.thought_close, max(start, 0))
    if start < 0 and close < 0:
        return Split(None, _strip_solution(text, delims), True)
    if close < 0:
        thoughts = text[start + len(delims.thought_open):]
        return Split(thoughts.strip(), "", False)
    # A close tag without an open one: models often omit the opening tag that the chat
    # template already inserted; everything before the close tag is thought.
    begin = start + len(delims.thought_open) if start >= 0 else 0
    thoughts = text[begin:close]
    rest = text[close + len(delims.thought_close):]
    return Split(thoughts.strip(), _strip_solution(rest, delims), True)


def _strip_solution(text: str, delims: Delimiters) -> str:
    if delims.solution_open:
        i = text.find(delims.solution_open)
        if i >= 0:
            text = text[i + len(delims.solution_open):]
    if delims.solution_close:
        j = text.rfind(delims.solution_close)
        if j >= 0:
            text = text[:j]
    return text.strip()


def join_response(thoughts: str, solution: str, delims: Delimiters) -> str:
    """The one spelling of a long-CoT response in a preset's delimiters: what the ICL
    exemplars show, what stage 1 writes into the SFT set, and what `split_response` reads."""
    parts = [delims.thought_open, thoughts.strip(), delims.thought_close]
    if delims.solution_open and delims.solution_close:
        parts += [delims.solution_open, solution.strip(), delims.solution_close]
    else:
        parts.append(solution.strip())
    return "\n".join(parts)
