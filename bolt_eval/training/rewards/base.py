"""What every reward component shares: the item scored, the reward given, one component's part.

A component (classifier, judge, verifier, format) turns items into parts; `RewardModel`
(rewards/__init__.py) adds the parts up with the recipe's weights. A part that could not
be computed (an API error, a reply without a grade, a model error, no reference) has value
None and says why: it is recorded as a failure and never becomes a 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RewardItem:
    """One response to score. `prompt` is the user's query as the policy should answer it
    (without in-context exemplars); `reference` is set for verifiable queries:
    {"task": "zebralogic" | "math500", "row": {a row of that benchmark's schema}}."""

    key: str
    prompt: str
    response: str
    finish_reason: str
    reference: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reward:
    """The combined reward (None unless every part is present), each part by component
    name, the failures ("judge: parse_error ...; ..."), and what a component noted about
    the item (the classifier's prompt tokens cut to fit, the format rule broken)."""

    value: float | None
    parts: dict[str, float | None]
    error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "parts": dict(self.parts), "error": self.error, "notes": dict(self.notes)}


@dataclass(frozen=True)
class Part:
    value: float | None
    error: str | None = None
    note: dict[str, Any] | None = None


class Component(ABC):
    """One kind of reward. Building one loads nothing; `preflight` checks that it can
    work (loads the model, checks the API key) and raises UserError before any work."""

    kind: str

    def __init__(self, name: str, weight: float) -> None:
        self.name = name
        self.weight = weight

    def preflight(self) -> None:
        """Fail now, with the fix, rather than after hours of generation."""

    @abstractmethod
    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        """One part per item, in order; `solutions` are the items' external solutions."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """What decides this component's values, for manifests (computed without loading)."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "weight": self.weight, **self.settings()}

    def close(self) -> None:
        """Release models and connections."""
