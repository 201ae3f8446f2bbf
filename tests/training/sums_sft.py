"""Two-digit sums for the tiny math recipe (`training/recipes/tiny-cpu-sums.yaml`): MATH500
rows ("What is $47 + 38$?") for the query, online, held-out and evaluation sets, all
disjoint, and long-CoT SFT traces in the bolt format that add column by column, then add
again in the other order as a check, then box the answer (the verifier reads the box).

The stand-in for stage 1's output on a model too small to bootstrap, as `zebra_sft.py` is
for the puzzles. `python tests/training/sums_sft.py` writes every file the recipe names."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bolt_eval.thoughts import get_delimiters

ROOT = Path(__file__).resolve().parents[2]
# file -> how many problems; the order fixes which pairs each file gets (seed 0)
FILES = {
    "training/queries/tiny-sums.jsonl": 16,           # stage 1's queries
    "training/queries/tiny-sums-sft.jsonl": 64,       # SFT traces
    "training/queries/tiny-sums-online.jsonl": 96,    # stage 3's prompts, 32 an iteration
    "training/queries/tiny-sums-heldout.jsonl": 16,   # stage 3's held-out reward
    "tasks/math500/train-tiny-sums.jsonl": 32,        # the evaluation set (suite train-tiny-sums)
}


def pairs(n: int, seed: int = 0) -> list[tuple[int, int]]:
    """`n` distinct (a, b), both 10..99, a sum and its swap never both drawn."""
    rng = random.Random(seed)
    seen: set[tuple[int, int]] = set()
    out = []
    while len(out) < n:
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        if (a, b) not in seen:
            seen |= {(a, b), (b, a)}
            out.append((a, b))
    return out


def row(a: int, b: int) -> dict[str, Any]:
    return {"problem": f"What is ${a} + {b}$?", "answer": str(a + b), "subject": "Prealgebra", "level": 1,
            "unique_id": f"sums/{a}+{b}"}


def columns(a: int, b: int) -> str:
    ones, carry = (a % 10) + (b % 10), 0
    text = f"Ones: {a % 10} + {b % 10} = {ones}"
    if ones >= 10:
        carry = 1
        text += f", write {ones - 10}, carry 1"
    tens = a // 10 + b // 10 + carry
    text += f". Tens: {a // 10} + {b // 10}" + (" + 1" if carry else "") + f" = {tens}."
    return text


def trace(a: int, b: int) -> str:
    d = get_delimiters("bolt")
    s = a + b
    thoughts = (f"I add {a} and {b} column by column. {columns(a, b)} So {a} + {b} = {s}. "
                f"Let me check by adding in the other order. {columns(b, a)} Again {s}, so the sum is {s}.")
    return f"{d.thought_open}{thoughts}{d.thought_close}{d.solution_open}{a} + {b} = {s}, so the answer is " \
           f"$\\boxed{{{s}}}$.{d.solution_close}"


def sft_row(a: int, b: int) -> dict[str, Any]:
    from bolt_eval.benchmarks.math500 import TEMPLATE

    return {"messages": [{"role": "user", "content": TEMPLATE.format(problem=row(a, b)["problem"])},
                         {"role": "assistant", "content": trace(a, b)}]}


def write_all(root: Path = ROOT) -> dict[str, int]:
    drawn = pairs(sum(FILES.values()))
    out, start = {}, 0
    for name, n in FILES.items():
        part = drawn[start:start + n]
        start += n
        rows = [sft_row(a, b) if name.endswith("-sft.jsonl") else row(a, b) for a, b in part]
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out[name] = len(rows)
    return out


if __name__ == "__main__":
    for name, n in write_all().items():
        print(f"{n:4d} {name}")
