"""ZebraLogic: logic grid puzzles scored exactly (Lin et al., 2025, arXiv:2502.01100).

The official puzzles (allenai/ZebraLogicBench-private, grid_mode) are gated; without them
the task uses a fixed generated set of 1000 puzzles with the official size mix (every size
2x2..6x6, 40 each), proven unique by the solver and named by generator version and seed in
the data source, so results on it stay comparable. Cell accuracy is the headline number,
as the BOLT paper reports it; puzzle accuracy and the no-answer rate come by size bucket.
Answers are read as ZeroEval's scorer reads them (the headline); the project's lenient
reading, which also finds answers the official extraction misses, is reported beside it as
`lenient` (bolt_eval/zebra/grading.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from typing import Any

from bolt_eval import stats
from bolt_eval.benchmarks.base import Rows, Task
from bolt_eval.registry import benchmarks
from bolt_eval.types import Sample, UserError
from bolt_eval.zebra.grading import grade, parse_answer, parse_answer_official
from bolt_eval.zebra.prompt import render_prompt
from bolt_eval.zebra.puzzle import BUCKETS, Puzzle

HUB_ID = "allenai/ZebraLogicBench-private"
GENERATED_SEED = 2025
OFFICIAL_MIX = [(n, m) for n in range(2, 7) for m in range(2, 7)]
PER_SIZE = 40


@benchmarks.register("zebralogic")
class ZebraLogic(Task):
    version = "2"  # 2: the headline reads answers as ZeroEval does; 1 read them leniently

    def official_rows(self) -> tuple[Rows, str, str]:
        return _official_or_generated()

    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        try:
            puzzle = Puzzle.from_record(row, place)
        except ValueError as err:
            raise UserError(str(err)) from err
        return Sample(puzzle.id, (puzzle.puzzle,), {"puzzle": puzzle})

    def template_text(self) -> str:
        """The prompt around a placeholder 2x2 puzzle: instructions, worked example, template."""
        placeholder = {"header": ["House", "Name"], "rows": [["1", "x"], ["2", "y"]]}
        return render_prompt(Puzzle("template", "2*2", "{puzzle}", placeholder))

    def prompt(self, sample: Sample, turn: int) -> str:
        return render_prompt(sample.reference["puzzle"])

    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        solution = sample.reference["puzzle"].solution
        g = grade(solution, parse_answer_official(solutions[-1]))
        lenient = grade(solution, parse_answer(solutions[-1]))
        return {"cells_total": g.cells_total, "cells_correct": g.cells_correct, "solved": g.solved, "parsed": g.parsed,
                "lenient": {"cells_correct": lenient.cells_correct, "solved": lenient.solved, "parsed": lenient.parsed}}

    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [_puzzle_totals(r) for r in records]
        buckets = [s.reference["puzzle"].bucket for s in samples]
        out = _metrics(rows)
        out["lenient"] = _metrics([_puzzle_totals(r, "lenient") for r in records])
        out["by_bucket"] = {b: _metrics([r for r, k in zip(rows, buckets) if k == b]) for b in BUCKETS if b in buckets}
        sizes = sorted({s.reference["puzzle"].size for s in samples})
        out["by_size"] = {z: _metrics([r for r, s in zip(rows, samples) if s.reference["puzzle"].size == z]) for z in sizes}
        return out

    def headline(self, summary: dict[str, Any]) -> tuple[str, stats.Estimate]:
        return "cell_accuracy", stats.Estimate(**summary["cell_accuracy"])

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per puzzle, cells right / cells over its outputs. The headline is a micro average
        (all cells right / all cells), so each puzzle weighs by its cells (`item_weights`):
        a paired bootstrap resamples puzzles and recomputes the ratio, as `aggregate` does."""
        out = {}
        for r in records:
            right, total, *_ = _puzzle_totals(r)
            out[r["id"]] = right / total if total else float("nan")
        return out

    def item_weights(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per puzzle, its number of cells (summed over outputs): the micro average's weight."""
        return {r["id"]: float(_puzzle_totals(r)[1]) for r in records}


def _puzzle_totals(record: dict[str, Any], reading: str | None = None) -> tuple[int, int, float, float]:
    """(cells right, cells, share solved, share unanswered) over a puzzle's outputs, as the
    official extraction read them, or as `reading` ("lenient") did."""
    totals = [o["score"]["cells_total"] for o in record["outputs"]]
    scores = [o["score"][reading] if reading else o["score"] for o in record["outputs"]]
    k = len(scores)
    return (sum(s["cells_correct"] for s in scores), sum(totals),
            sum(s["solved"] for s in scores) / k, sum(not s["parsed"] for s in scores) / k)


def _metrics(rows: list[tuple[int, int, float, float]]) -> dict[str, Any]:
    return {
        "cell_accuracy": stats.bootstrap_ratio([r[0] for r in rows], [r[1] for r in rows]).to_dict(),
        "puzzle_accuracy": stats.bootstrap_mean([r[2] for r in rows]).to_dict(),
        "no_answer_rate": round(sum(r[3] for r in rows) / len(rows), 6),
    }


def _official_or_generated() -> tuple[Rows, str, str]:
    import datasets

    try:
        ds = datasets.load_dataset(HUB_ID, "grid_mode", split="test")
        rows = [(f"{HUB_ID} row {i}", dict(r)) for i, r in enumerate(ds)]
        return rows, f"hub:{HUB_ID}/grid_mode@{ds._fingerprint}", ds._fingerprint
    except Exception as err:  # gated or offline: fall back to the generated set, said aloud
        print(f"bolt-eval: zebralogic: the official set {HUB_ID} is unavailable ({type(err).__name__}; it is "
              "gated: accept its terms and set HF_TOKEN, or pass --data FILE). Using the generated set "
              f"(seed {GENERATED_SEED}, {PER_SIZE} per size 2x2..6x6).", file=sys.stderr, flush=True)
    return generated_set()


@functools.cache
def generated_set() -> tuple[Rows, str, str]:
    from bolt_eval.zebra.generator import GENERATOR_VERSION, generate_set

    records = [p.to_record() for p in generate_set(OFFICIAL_MIX, PER_SIZE, GENERATED_SEED)]
    digest = hashlib.sha256("".join(json.dumps(r, sort_keys=True) for r in records).encode()).hexdigest()
    rows = [(f"generated puzzle {r['id']}", r) for r in records]
    return rows, f"generated:zebra-v{GENERATOR_VERSION}-seed{GENERATED_SEED}-{PER_SIZE}x25", digest
