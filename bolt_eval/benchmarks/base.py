"""The Task interface: one benchmark = load samples, build prompts, score, aggregate.

A new benchmark is one file in this folder that subclasses Task and registers itself with
`@benchmarks.register("name")`. The runner calls these methods and nothing else.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bolt_eval.jsonl import read_jsonl, unique_ids
from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.judging.templates import Template
from bolt_eval.stats import Estimate
from bolt_eval.types import SamplingParams, Sample, UserError

Rows = list[tuple[str, dict[str, Any]]]  # (place like "file.jsonl line 3", record)


@dataclass(frozen=True)
class Dataset:
    samples: list[Sample]
    source: str  # "file:/abs/path" or "hub:org/name@revision"
    sha256: str


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Task(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    #: The API model whose verdicts make official numbers; None for tasks scored exactly.
    official_judge: ClassVar[str | None] = None
    #: How the headline reads: "%" (a rate, shown x100) or "score" (shown as it is).
    unit: ClassVar[str] = "%"

    #: Task-specific options (CLI flags that only some tasks read), by keyword.
    OPTIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, data: str | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise UserError(f"task {self.name} has no option {', '.join(unknown)} "
                            f"(it takes: {', '.join(self.OPTIONS) or 'none'})")
        self.data = data
        self.options = options

    def load(self) -> Dataset:
        """All samples, from --data when given, else the official source; ids unique."""
        if self.data:
            rows, source, digest = list(read_jsonl(self.data)), f"file:{self.data}", file_sha256(self.data)
        else:
            rows, source, digest = self.official_rows()
        samples = [self.to_sample(row, place) for place, row in rows]
        unique_ids([(s.id, place) for s, (place, _) in zip(samples, rows)])
        return Dataset(samples, source, digest)

    @abstractmethod
    def official_rows(self) -> tuple[Rows, str, str]:
        """(rows as (place, record), source, sha256) from the published source, or a
        UserError that names --data."""

    @abstractmethod
    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        """One record of the benchmark's schema; errors name `place` and the field."""

    @abstractmethod
    def prompt(self, sample: Sample, turn: int) -> str:
        """The user message for `turn` (0-based)."""

    @abstractmethod
    def template_text(self) -> str:
        """The prompt template(s), hashed into the manifest."""

    def sampling(self, sample: Sample, base: SamplingParams) -> SamplingParams:
        """Per-sample sampling settings (MT-Bench varies temperature by category)."""
        return base

    def judge_templates(self) -> dict[str, Template]:
        """Judged tasks: the judge templates by name, loaded once per run."""
        raise NotImplementedError(f"{self.name} is not judged")

    def judge_prompts(self, sample: Sample, output: dict[str, Any],
                      templates: dict[str, Template]) -> dict[str, JudgePrompt]:
        """Judged tasks: the named judge calls for one output (a trajectory as stored:
        `output["turns"][t]["solution"]`). Their results reach `aggregate` as
        `output["judgments"][name] = {"status", "verdict", ...}`."""
        raise NotImplementedError(f"{self.name} is not judged")

    def settings(self) -> dict[str, Any]:
        """The task options that change its numbers, as they take effect (defaults filled,
        no machine-local paths): runs that differ here share no column (comparing/comparable.py)."""
        return {}

    def preflight(self) -> None:
        """Check the task's own inputs that only aggregation reads (raise UserError), so a
        bad option fails before anything is generated or judged."""

    @abstractmethod
    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        """Score one trajectory: the external solution of each turn."""

    @abstractmethod
    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        """The summary: metrics with CIs and breakdowns. `records` align with `samples`."""

    @abstractmethod
    def headline(self, summary: dict[str, Any]) -> tuple[str, Estimate]:
        """The one number a table shows for this task, with its CI."""

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per sample id, the sample's own value of the headline (NaN or absent when it has
        none, e.g. nothing judged). With `item_weights` it reproduces the headline as
        sum(w * v) / sum(w), so a paired bootstrap (`stats.paired_delta`) that resamples
        items and recomputes that ratio is right for plain means and micro averages alike.
        `records` are as `aggregate` receives them; only `sample.id` is read from `samples`."""
        raise NotImplementedError(f"{self.name} has no item_values: it cannot be compared with paired statistics")

    def item_weights(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per sample id, the item's weight in the headline: 1 for a plain mean over items;
        the denominator's share for a micro average (cells of a puzzle, judged grades of a
        question). 0 where the item has no value."""
        return {r["id"]: 1.0 for r in records}


def select(samples: list[Sample], limit: int | None) -> list[Sample]:
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    return samples[:limit] if limit else samples
