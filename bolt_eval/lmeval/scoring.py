"""bolt-eval's own scorer behind an exported lm-eval task (see lmeval/export.py).

An exported task's utils.py calls these: `load_data` reads the task's data.jsonl (beside
the YAML, so the folder can be moved), `process_results` scores lm-eval's response with the
bolt-eval Task's `score`, exactly as a bolt-eval run does (the response split at the
--thoughts delimiters, the external solution scored), and returns the item's headline value
with its weight, and `weighted_mean` aggregates them as sum(w * v) / sum(w): the contract of
`Task.item_values` / `item_weights`, so the lm-eval number equals bolt-eval's headline for
plain means (MATH500 accuracy) and micro averages (ZebraLogic cell accuracy) alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bolt_eval.types import Sample


def one_record(task: Any, sample: Sample, response: str, thoughts: str) -> dict[str, Any]:
    """The record a bolt-eval run stores for one single-turn answer (generation.record)."""
    from bolt_eval.thoughts import get_delimiters, split_response

    sp = split_response(response, get_delimiters(thoughts))
    turn = {"prompt": task.prompt(sample, 0), "response": response, "thoughts": sp.thoughts, "solution": sp.solution,
            "thoughts_closed": sp.thoughts_closed, "finish_reason": None, "prompt_tokens": 0,
            "completion_tokens": 0, "latency_s": 0.0}
    return {"id": sample.id, "outputs": [{"turns": [turn], "score": task.score(sample, [sp.solution])}]}


class Scorer:
    """One exported task: its bolt-eval Task, the long-CoT preset, and the headline's name."""

    def __init__(self, task: str, thoughts: str = "none") -> None:
        from bolt_eval.registry import benchmarks

        self.task = benchmarks.get(task)()
        self.thoughts = thoughts

    def sample(self, doc: dict[str, Any]) -> Sample:
        return self.task.to_sample(json.loads(doc["row"]), f"{self.task.name} item {doc['id']}")

    def item(self, doc: dict[str, Any], response: str) -> tuple[float, float]:
        """(value, weight) of the item's headline, as bolt-eval's item_values / item_weights give them."""
        sample = self.sample(doc)
        record = one_record(self.task, sample, response, self.thoughts)
        return (self.task.item_values([sample], [record])[sample.id], self.task.item_weights([sample], [record])[sample.id])

    def headline_name(self, doc: dict[str, Any]) -> str:
        sample = self.sample(doc)
        return self.task.headline(self.task.aggregate([sample], [one_record(self.task, sample, "", self.thoughts)]))[0]


def load_data(folder: Path) -> dict[str, Any]:
    """The exported data.jsonl as lm-eval's `custom_dataset` returns it: {"test": Dataset}."""
    import datasets

    rows = [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return {"test": datasets.Dataset.from_list(rows)}


def weighted_mean(items: list[tuple[float, float]]) -> float:
    total = sum(w for _, w in items)
    return sum(v * w for v, w in items) / total if total else float("nan")
