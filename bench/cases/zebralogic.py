"""ZebraLogic: generate the 1000-puzzle set (the official size mix, 40 of each size 2x2..6x6,
every puzzle proven unique by the solver), score 1000 answers, and time the solver on 6x6.

Generation calls the solver many times per puzzle (after each clue drawn, then once per
clue pruned); the solver's share of generation time is the ratio reported. The 6x6 figures
time the solver alone on the final clue sets of the generated 6x6 puzzles: one solve, and
the uniqueness proof (search for a second solution, which must fail).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

TITLE = "6. ZebraLogic: generate + prove 1000 puzzles (official size mix), score 1000 answers, solver on 6x6"
ORDER = 6
SEED = 2025


def _timed(fn: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)
    return wrapper


def _answer(puzzle: Any) -> str:
    """A right answer in the format the prompt asks for."""
    header, rows = puzzle.solution["header"], puzzle.solution["rows"]
    houses = {f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in rows}
    return "Reasoning ... " + json.dumps({"reasoning": "...", "solution": houses})


def run(quick: bool) -> dict[str, Any]:
    from bolt_eval.benchmarks.zebralogic import OFFICIAL_MIX, PER_SIZE
    from bolt_eval.zebra import generator, solver
    from bolt_eval.zebra.grading import grade, parse_answer

    per_size = 2 if quick else PER_SIZE
    spent: list[float] = []
    final_6x6: list[tuple[Any, ...]] = []  # (n, attributes, clues) of each 6x6 puzzle's last solve

    def solve(n: int, attributes: Any, clues: Any) -> Any:
        if n == 6 and len(attributes) == 6:
            final_6x6.append((n, attributes, list(clues)))
        return solver.solve(n, attributes, clues)

    generator.count_solutions = _timed(solver.count_solutions, spent)  # the generator's own references
    generator.solve = _timed(solve, spent)
    t0 = time.perf_counter()
    puzzles = generator.generate_set(OFFICIAL_MIX, per_size, SEED)
    generate_s = time.perf_counter() - t0

    answers = [_answer(p) for p in puzzles]
    t0 = time.perf_counter()
    graded = [grade(p.solution, parse_answer(a)) for p, a in zip(puzzles, answers)]
    score_s = time.perf_counter() - t0
    assert all(g.solved for g in graded), "zebralogic: a right answer was not graded right"

    solve_ms, proof_ms = [], []
    for args in final_6x6:
        t0 = time.perf_counter()
        solver.solve(*args)
        t1 = time.perf_counter()
        assert solver.count_solutions(*args) == 1
        solve_ms.append((t1 - t0) * 1e3)
        proof_ms.append((time.perf_counter() - t1) * 1e3)

    n = len(puzzles)
    rows = [
        {"what": f"generate {n} puzzles, each proven unique", "total_s": generate_s, "per_puzzle_ms": generate_s / n * 1e3,
         "solver_share": sum(spent) / generate_s, "solver_calls": len(spent)},
        {"what": f"score {n} answers (parse JSON + grade cells)", "total_s": score_s, "per_puzzle_ms": score_s / n * 1e3},
        {"what": f"6x6: solve, median of {len(solve_ms)}", "per_puzzle_ms": statistics.median(solve_ms)},
        {"what": f"6x6: uniqueness proof, median of {len(proof_ms)}", "per_puzzle_ms": statistics.median(proof_ms)},
    ]
    notes = ["solver share: time inside the solver over the whole generation time (clue drawing, rendering: the rest)",
             "the 6x6 clue sets are the generated puzzles' final (pruned) ones"]
    return {"rows": rows, "notes": notes}
