"""Structure perturbations of the thoughts: shuffle, delete or insert reasoning steps
(Li et al., arXiv 2502.07374, section 4.2: "a step is a paragraph of the thought"; the
Sky-T1 prompt asks for steps separated by a blank line). The external solution is untouched.

A step is a paragraph (blank-line separated). A thought of one paragraph falls back to its
lines, and a thought of one line to its sentences (split after . ! or ? and white space):
the first of these units that gives at least two steps is the row's unit, counted in the
report (`unit_paragraph`, `unit_line`, `unit_sentence`). A thought that is one sentence is
skipped ("one step"). The separators between steps stay where they were; a step inserted
or moved next to a new neighbour is joined with the unit's own separator.

k = share(ratio, steps) steps (round half up):
    shuffle  k steps chosen and permuted among their own positions so that each of them
             moves (a derangement); k = 1 is raised to 2, since one step cannot move
    delete   k steps removed (ratio 1 leaves the thought tags empty)
    insert   k steps drawn from other rows (a random other row with thoughts, then a random
             step of it, split in the receiving row's unit), each at a random position
With one seed the steps chosen at a smaller ratio are among those chosen at a larger one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bolt_eval.training.perturb.rows import Context, Outcome, Turn, share

UNITS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("paragraph", re.compile(r"(\n\s*\n)"), "\n\n"),
    ("line", re.compile(r"(\n)"), "\n"),
    ("sentence", re.compile(r"(?<=[.!?])(\s+)"), " "),
)
SEPARATOR = {name: sep for name, _, sep in UNITS}


@dataclass
class Steps:
    unit: str
    steps: list[str]
    seps: list[str]  # seps[i] sits between steps[i] and steps[i + 1]

    def join(self) -> str:
        out = self.steps[0] if self.steps else ""
        for sep, step in zip(self.seps, self.steps[1:]):
            out += sep + step
        return out


def split_unit(text: str, unit: str) -> Steps:
    pattern = next(p for name, p, _ in UNITS if name == unit)
    parts = pattern.split(text)
    return Steps(unit, parts[0::2], parts[1::2])


def split_steps(thoughts: str) -> Steps | None:
    """The thought cut into steps in the first unit that gives two or more, else None."""
    for name, _, _ in UNITS:
        steps = split_unit(thoughts, name)
        if len(steps.steps) >= 2:
            return steps
    return None


def _prepare(turn: Turn, rng: random.Random, ratio: float) -> tuple[Steps | None, list[int], int, Outcome | None]:
    """The row's steps, a seeded order of their positions and k; or the reason to skip."""
    if not turn.thoughts:
        return None, [], 0, Outcome(skip="no thoughts")
    steps = split_steps(turn.thoughts)
    if steps is None:
        return None, [], 0, Outcome(skip="one step")
    order = list(range(len(steps.steps)))
    rng.shuffle(order)
    k = share(ratio, len(steps.steps))
    if k == 0:
        return None, [], 0, Outcome(skip="ratio x steps rounds to 0")
    return steps, order, k, None


def _counts(steps: Steps, key: str, k: int) -> dict[str, int]:
    return {"steps": len(steps.steps), key: k, f"unit_{steps.unit}": 1}


def shuffle(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    steps, order, k, skip = _prepare(turn, rng, ratio)
    if steps is None:
        return skip  # type: ignore[return-value]
    k = max(k, 2)
    chosen = sorted(order[:k])
    perm = list(range(k))
    while any(p == j for j, p in enumerate(perm)):
        rng.shuffle(perm)
    new = list(steps.steps)
    for j, pos in enumerate(chosen):
        new[pos] = steps.steps[chosen[perm[j]]]
    out = Steps(steps.unit, new, steps.seps)
    return Outcome(turn.with_thoughts(out.join()), counts=_counts(steps, "steps_moved", k))


def delete(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    steps, order, k, skip = _prepare(turn, rng, ratio)
    if steps is None:
        return skip  # type: ignore[return-value]
    gone = set(order[:k])
    kept = [i for i in range(len(steps.steps)) if i not in gone]
    # the separator kept before a step is the one that preceded it
    out = Steps(steps.unit, [steps.steps[i] for i in kept], [steps.seps[i - 1] for i in kept[1:]])
    return Outcome(turn.with_thoughts(out.join()), counts=_counts(steps, "steps_deleted", k))


def insert(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    steps, order, k, skip = _prepare(turn, rng, ratio)
    if steps is None:
        return skip  # type: ignore[return-value]
    new, seps = list(steps.steps), [""] + list(steps.seps)  # seps[i]: the separator before new[i]
    for _ in range(k):
        donor = ctx.donor(rng)
        if donor is None:
            return Outcome(skip="no other row to draw steps from")
        step = rng.choice([s for s in split_unit(donor, steps.unit).steps if s.strip()])
        pos = rng.randint(0, len(new))
        new.insert(pos, step)
        seps.insert(pos, SEPARATOR[steps.unit])
        seps[0] = ""
        if pos == 0:
            seps[1] = SEPARATOR[steps.unit]
    out = Steps(steps.unit, new, seps[1:])
    return Outcome(turn.with_thoughts(out.join()), counts=_counts(steps, "steps_inserted", k))
