"""Exact rewards from the harness's own scorers, for queries that carry a reference.

The reference is a row of a benchmark's schema ({"task": "math500" | "zebralogic", "row":
{...}}); the registered task builds its `Sample` from the row and scores the external
solution exactly as an evaluation run would (`Task.score`), so the reward that training
optimises and the number evaluation reports are the same function:

    math500     1.0 when the answer is equivalent to the reference (math-verify, then the
                MATH string check; benchmarks/math500.py), else 0.0
    zebralogic  cell accuracy, cells right / cells in the grid (zebra/grading.py): a graded
                reward, as the puzzle-level 0/1 would leave most samples of a weak model at 0

An item without a reference, or with a row its task rejects, gets no value and says why.
"""

from __future__ import annotations

from typing import Any, Callable

from bolt_eval.benchmarks.base import Task
from bolt_eval.registry import benchmarks
from bolt_eval.training.rewards.base import Component, Part, RewardItem
from bolt_eval.types import UserError

# task name -> the reward read from that task's score of one trajectory
READERS: dict[str, Callable[[dict[str, Any]], float]] = {
    "math500": lambda s: 1.0 if s["correct"] else 0.0,
    "zebralogic": lambda s: s["cells_correct"] / s["cells_total"],
}


class VerifierReward(Component):
    kind = "verifier"

    def __init__(self, name: str, weight: float) -> None:
        super().__init__(name, weight)
        self._tasks: dict[str, Task] = {}

    def _task(self, name: str) -> Task:
        if name not in self._tasks:
            self._tasks[name] = benchmarks.get(name)()
        return self._tasks[name]

    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        return [self._one(item, solution) for item, solution in zip(items, solutions)]

    def _one(self, item: RewardItem, solution: str) -> Part:
        ref = item.reference
        if not isinstance(ref, dict) or "task" not in ref or not isinstance(ref.get("row"), dict):
            return Part(None, 'no reference to verify against (the query needs "reference": {"task", "row"})')
        if ref["task"] not in READERS:
            return Part(None, f"task {ref['task']!r} has no exact scorer (verifiable: {', '.join(READERS)})")
        try:
            task = self._task(ref["task"])
            result = task.score(task.to_sample(ref["row"], f"reference of {item.key}"), [solution])
        except UserError as err:
            return Part(None, str(err))
        return Part(float(READERS[ref["task"]](result)))

    def settings(self) -> dict[str, Any]:
        return {"tasks": {name: benchmarks.get(name).version for name in READERS}}
