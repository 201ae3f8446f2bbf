"""The rule-based format reward of BOLT stage 3 (Pang et al., arXiv 2502.03860, Sec. 2.3):
1.0 when the whole response passes the long-CoT format check (format_check.py), else 0.0.
Deterministic and never fails; the rule broken is noted on the item."""

from __future__ import annotations

from typing import Any

from bolt_eval.thoughts import Delimiters
from bolt_eval.training.format_check import check_format
from bolt_eval.training.recipe import FormatRules
from bolt_eval.training.rewards.base import Component, Part, RewardItem


class FormatReward(Component):
    kind = "format"

    def __init__(self, name: str, weight: float, delims: Delimiters, rules: FormatRules) -> None:
        super().__init__(name, weight)
        self.delims = delims
        self.rules = rules

    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        parts = []
        for item in items:
            verdict = check_format(item.response, item.finish_reason, self.delims, self.rules)
            parts.append(Part(1.0, None) if verdict.ok else Part(0.0, None, {"reason": verdict.reason}))
        return parts

    def settings(self) -> dict[str, Any]:
        return {"rules": self.rules.model_dump()}
