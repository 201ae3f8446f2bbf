"""The part of a chat SFT row that a perturbation touches: the last assistant turn, and in it
the span of the internal thoughts as the harness's thoughts presets read it
(`bolt_eval.thoughts.split_response`), so the delimiters and the external solution around
the thoughts are kept byte for byte.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from bolt_eval.thoughts import Delimiters, split_response
from bolt_eval.types import UserError


@dataclass(frozen=True)
class Turn:
    """The last assistant message of a row; `span` is where its (stripped) thoughts sit in
    `text`, None under the preset 'none' (no thoughts to find)."""

    index: int  # position of the message in row["messages"]
    text: str
    span: tuple[int, int] | None

    @property
    def thoughts(self) -> str | None:
        return None if self.span is None else self.text[self.span[0]:self.span[1]]

    def with_thoughts(self, thoughts: str) -> str:
        """The turn with its thoughts replaced and every other character as it was."""
        assert self.span is not None
        return self.text[:self.span[0]] + thoughts + self.text[self.span[1]:]


def read_turn(row: Any, place: str, delims: Delimiters | None, preset: str) -> Turn:
    """The row's last assistant turn, checked; errors name `place` and the fix."""
    msgs = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(msgs, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in msgs):
        raise UserError(f"{place}: field 'messages' must be a list of {{\"role\", \"content\"}} objects "
                        "(a chat SFT row, as `bolt-eval train sft` reads)")
    last = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i]["role"] == "assistant"), None)
    if last is None:
        raise UserError(f"{place}: no assistant turn in 'messages'; each row needs the assistant turn to perturb")
    text = msgs[last]["content"]
    if delims is None:
        return Turn(last, text, None)
    split = split_response(text, delims)
    if split.thoughts is None:
        raise UserError(f"{place}: the assistant turn has no {delims.thought_open}...{delims.thought_close}; "
                        f"pass the --thoughts preset the set is written in (this is {preset!r}), or fix the row")
    if not split.thoughts_closed:
        raise UserError(f"{place}: the assistant turn opens {delims.thought_open} but never closes it "
                        f"({delims.thought_close}); fix or remove the row")
    opened = text.find(delims.thought_open)
    begin = opened + len(delims.thought_open) if opened >= 0 else 0
    start = text.find(split.thoughts, begin)
    return Turn(last, text, (start, start + len(split.thoughts)))


def with_turn(row: dict[str, Any], turn: Turn, text: str) -> dict[str, Any]:
    """A new row whose perturbed turn reads `text`; every other key and message as it was
    (shared with `row`, not copied: neither is modified)."""
    messages = list(row["messages"])
    messages[turn.index] = {**messages[turn.index], "content": text}
    return {**row, "messages": messages}


def share(ratio: float, n: int) -> int:
    """round(ratio x n) with halves rounded up: Python's round() rounds halves to even
    (0.5 x 1 -> 0, 0.5 x 5 -> 2), which would leave one-step rows untouched at ratio 0.5."""
    return min(n, math.floor(ratio * n + 0.5))


@dataclass
class Outcome:
    """What one transform did to one row: the new turn text, or why it could not apply
    (`skip`), and its counts (numbers replaced, steps moved, ...) summed into the report."""

    text: str | None = None
    skip: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Context:
    """What a transform may see beyond its own row: the other rows' thoughts (insert's
    donors) and the wrong traces for this row's prompt (wrong-answers)."""

    thoughts: list[str]  # every row's thoughts, "" where a row has none
    donors: list[int]  # indices of the rows with thoughts, ascending
    index: int
    wrong: list[str] = field(default_factory=list)

    def donor(self, rng: Any) -> str | None:
        """The thoughts of a random other row with thoughts (seeded by `rng`), None if none."""
        p = bisect.bisect_left(self.donors, self.index)
        mine = p < len(self.donors) and self.donors[p] == self.index
        n = len(self.donors) - mine
        if n == 0:
            return None
        r = rng.randrange(n)
        if mine and r >= p:
            r += 1
        return self.thoughts[self.donors[r]]
