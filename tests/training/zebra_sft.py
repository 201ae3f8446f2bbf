"""A small long-CoT SFT set written from ZebraLogic puzzles with known solutions, in the
bolt format (thoughts that check every clue against the solution, then the JSON answer
the zebra scorer reads): the slow test's stand-in for stage 1's output, which needs a
generator run too long for a test. `python tests/training/zebra_sft.py IN OUT` writes one."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bolt_eval.registry import benchmarks
from bolt_eval.thoughts import get_delimiters


def response(puzzle_text: str, solution: dict[str, Any]) -> str:
    header, rows = solution["header"], solution["rows"]
    houses = {f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in rows}
    clues = re.findall(r"^\d+\. (.+)$", puzzle_text, flags=re.MULTILINE)
    plan = "; ".join(f"{h}: " + ", ".join(f"{k} {v}" for k, v in a.items()) for h, a in houses.items())
    checks = " ".join(f"Clue {i}: \"{c}\" holds for this placement." for i, c in enumerate(clues, start=1))
    d = get_delimiters("bolt")
    assert d is not None and d.solution_open and d.solution_close
    thoughts = (f"There are {len(rows)} houses and {len(header) - 1} attributes. Let me try a placement and check "
                f"every clue. Placement: {plan}. {checks} Every clue holds and each value is used once, so this "
                "is the solution.")
    answer = json.dumps({"reasoning": "Every clue holds for this placement.", "solution": houses})
    return f"{d.thought_open}{thoughts}{d.thought_close}{d.solution_open}{answer}{d.solution_close}"


def rows(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    task = benchmarks.get("zebralogic")(data=str(path))
    raw = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    out = []
    for sample, row in zip(task.load().samples[:limit], raw):
        out.append({"messages": [{"role": "user", "content": task.prompt(sample, 0)},
                                 {"role": "assistant", "content": response(row["puzzle"], row["solution"])}]})
    return out


if __name__ == "__main__":
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows(src)))
    print(f"wrote {dst}")
