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

from bolt_eval.stats import Estimate
from bolt_eval.types import SamplingParams, Sample, UserError

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"


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

    def __init__(self, data: str | None = None) -> None:
        self.data = data

    @abstractmethod
    def load(self) -> Dataset:
        """All samples, from --data when given, else the official source."""

    @abstractmethod
    def prompt(self, sample: Sample, turn: int) -> str:
        """The user message for `turn` (0-based)."""

    @abstractmethod
    def template_text(self) -> str:
        """The prompt template(s), hashed into the manifest."""

    def sampling(self, sample: Sample, base: SamplingParams) -> SamplingParams:
        """Per-sample sampling settings (MT-Bench varies temperature by category)."""
        return base

    @abstractmethod
    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        """Score one trajectory: the external solution of each turn."""

    @abstractmethod
    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        """The summary: metrics with CIs and breakdowns. `records` align with `samples`."""

    @abstractmethod
    def headline(self, summary: dict[str, Any]) -> tuple[str, Estimate]:
        """The one number a table shows for this task, with its CI."""


def select(samples: list[Sample], limit: int | None) -> list[Sample]:
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    return samples[:limit] if limit else samples
