"""Small long-CoT SFT sets written from ZebraLogic puzzles with known solutions, in the
bolt format, then the JSON answer the zebra scorer reads: the stand-in for stage 1's
output on a model too small to bootstrap (and for the slow test, whose generator run
would take too long). Two styles of thoughts:

- `check`: state the proven placement, then say that each clue holds for it;
- `deduce`: go through the clues in order and say which houses each one fixes, given the
  clues before it (worked out by the puzzle solver), then the placement and the checks.

`python tests/training/zebra_sft.py IN OUT [--style deduce] [--limit N]` writes one."""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path
from typing import Any

from bolt_eval.registry import benchmarks
from bolt_eval.thoughts import get_delimiters
from bolt_eval.zebra.generator import render_clue
from bolt_eval.zebra.solver import BINARY_KINDS, UNARY_KINDS, Clue, count_solutions

STYLES = ("check", "deduce")


def clue_lines(puzzle_text: str) -> list[str]:
    return re.findall(r"^\d+\. (.+)$", puzzle_text, flags=re.MULTILINE)


def parse_clues(lines: list[str], header: list[str], rows: list[list[str]]) -> list[Clue]:
    """The solver's clue behind each rendered line: every clue over the puzzle's values,
    rendered, looked up by its text."""
    refs = [(attr, row[i]) for i, attr in enumerate(header) if i for row in rows]
    houses = range(1, len(rows) + 1)
    candidates = [Clue(k, x, house=h) for k in UNARY_KINDS for x in refs for h in houses]
    candidates += [Clue(k, x, y) for k in BINARY_KINDS for x, y in itertools.permutations(refs, 2)]
    by_text = {render_clue(c): c for c in candidates}
    missing = [line for line in lines if line not in by_text]
    if missing:
        raise ValueError(f"clue(s) not in the generator's wording: {missing}")
    return [by_text[line] for line in lines]


def deductions(lines: list[str], header: list[str], rows: list[list[str]]) -> list[str]:
    """One sentence per clue: the houses it fixes on top of the clues before it."""
    n = len(rows)
    domains = {attr: sorted(row[i] for row in rows) for i, attr in enumerate(header) if i}
    clues = parse_clues(lines, header, rows)
    known: set[tuple[str, str]] = set()
    out = []
    for i, line in enumerate(lines, start=1):
        fixed: dict[int, list[str]] = {}
        for attr, values in domains.items():
            for value in values:
                if (attr, value) in known:
                    continue
                possible = [h for h in range(1, n + 1) if count_solutions(
                    n, domains, [*clues[:i], Clue("found_at", (attr, value), house=h)], limit=1)]
                if len(possible) == 1:
                    known.add((attr, value))
                    fixed.setdefault(possible[0], []).append(f"{attr} {value}")
        said = "; ".join(f"House {h}: " + ", ".join(fixed[h]) for h in sorted(fixed))
        out.append(f"Clue {i}: \"{line}\" " + (f"So {said}." if fixed else "This fixes no house yet."))
    return out


def response(puzzle_text: str, solution: dict[str, Any], style: str = "check") -> str:
    header, rows = solution["header"], solution["rows"]
    houses = {f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in rows}
    lines = clue_lines(puzzle_text)
    plan = "; ".join(f"{h}: " + ", ".join(f"{k} {v}" for k, v in a.items()) for h, a in houses.items())
    size = f"There are {len(rows)} houses and {len(header) - 1} attributes."
    if style == "check":
        checks = " ".join(f"Clue {i}: \"{c}\" holds for this placement." for i, c in enumerate(lines, start=1))
        thoughts = (f"{size} Let me try a placement and check every clue. Placement: {plan}. {checks} Every "
                    "clue holds and each value is used once, so this is the solution.")
    elif style == "deduce":
        steps = " ".join(deductions(lines, header, rows))
        checks = ", ".join(f"clue {i} holds" for i in range(1, len(lines) + 1))
        thoughts = (f"{size} Let me go through the clues one by one. {steps} Placement: {plan}. Checking it: "
                    f"{checks}, and each value is used once, so this is the solution.")
    else:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    d = get_delimiters("bolt")
    assert d is not None and d.solution_open and d.solution_close
    answer = json.dumps({"reasoning": "Every clue holds for this placement.", "solution": houses})
    return f"{d.thought_open}{thoughts}{d.thought_close}{d.solution_open}{answer}{d.solution_close}"


def rows(path: Path, limit: int | None = None, style: str = "check") -> list[dict[str, Any]]:
    task = benchmarks.get("zebralogic")(data=str(path))
    raw = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    out = []
    for sample, row in zip(task.load().samples[:limit], raw):
        out.append({"messages": [{"role": "user", "content": task.prompt(sample, 0)},
                                 {"role": "assistant", "content": response(row["puzzle"], row["solution"], style)}]})
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--style", choices=STYLES, default="check")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    args.dst.write_text("".join(json.dumps(r) + "\n" for r in rows(args.src, args.limit, args.style)))
    print(f"wrote {args.dst}")
