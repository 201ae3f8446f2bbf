"""Outcome reward models: one interface, four kinds, combined with the recipe's weights.

BOLT (Pang et al., arXiv 2502.03860) scores bootstrapped responses in stage 1 and policy
samples in stage 3 with an outcome reward model (ORM) on the external solution only, and
adds a rule-based format reward in stage 3. A recipe's `reward` section lists components:

    classifier  a sequence-classification reward model (transformers)      rewards/classifier.py
    judge       an LLM judge's 1-10 grade, through the judging ledger      rewards/judge.py
    verifier    the harness's exact scorers (MATH500, ZebraLogic)          rewards/verifier.py
    format      1 when the long-CoT format check passes, else 0           rewards/format.py

    reward = build_reward(recipe)          # loads nothing
    reward.preflight()                     # loads models, checks keys: UserError before any work
    rewards = reward.score(items)          # list[Reward], in order
    reward.describe()                      # for manifests: kinds, weights, models, templates

The ORM components read the external solution (split with the recipe's thoughts preset);
the format component reads the whole response. A part that fails is None with its reason,
and the combined value sum(weight * part) is None unless every part is present.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from bolt_eval.thoughts import get_delimiters, split_response
from bolt_eval.training.recipe import FormatRules, Recipe
from bolt_eval.training.rewards.base import Component, Part, Reward, RewardItem
from bolt_eval.types import UserError

__all__ = ["Reward", "RewardItem", "RewardModel", "build_reward"]

CHUNK = 512  # items scored by every component before progress is reported


class RewardModel:
    def __init__(self, components: list[Component], thoughts: str) -> None:
        self.components = components
        self.thoughts = thoughts
        self.delims = get_delimiters(thoughts)

    def preflight(self) -> None:
        for c in self.components:
            c.preflight()

    def score(self, items: list[RewardItem], progress: Callable[[int], None] | None = None) -> list[Reward]:
        """One Reward per item, in order; `progress(n)` after each chunk of n items."""
        out: list[Reward] = []
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            solutions = [split_response(item.response, self.delims).solution for item in chunk]
            parts = [c.score(chunk, solutions) for c in self.components]
            out.extend(self._combine([p[j] for p in parts]) for j in range(len(chunk)))
            if progress:
                progress(len(chunk))
        return out

    def _combine(self, parts: list[Part]) -> Reward:
        values = {c.name: p.value for c, p in zip(self.components, parts)}
        errors = [f"{c.name}: {p.error}" for c, p in zip(self.components, parts) if p.value is None]
        notes = {c.name: p.note for c, p in zip(self.components, parts) if p.note}
        value = None if errors else sum(c.weight * p.value for c, p in zip(self.components, parts))  # type: ignore[misc]
        return Reward(value, values, "; ".join(errors) or None, notes)

    def describe(self) -> dict[str, Any]:
        return {"thoughts": self.thoughts, "components": [c.describe() for c in self.components]}

    def close(self) -> None:
        for c in self.components:
            c.close()


def build_reward(recipe: Recipe) -> RewardModel:
    """The recipe's reward components, checked and built; nothing is loaded yet."""
    from bolt_eval.training.rewards.classifier import ClassifierReward
    from bolt_eval.training.rewards.format import FormatReward
    from bolt_eval.training.rewards.judge import JudgeReward
    from bolt_eval.training.rewards.verifier import VerifierReward

    specs = recipe.section("reward")
    counts = Counter(comp.kind for comp in specs)
    components: list[Component] = []
    for i, comp in enumerate(specs):
        name = comp.kind if counts[comp.kind] == 1 else f"{comp.kind}_{i}"
        place = f"{recipe.source}: reward[{i}] ({comp.kind})"
        if comp.kind == "classifier":
            components.append(ClassifierReward(name, comp.weight, comp, place))
        elif comp.kind == "judge":
            components.append(JudgeReward(name, comp.weight, comp, place, recipe.output_dir))
        elif comp.kind == "verifier":
            components.append(VerifierReward(name, comp.weight))
        else:
            delims = get_delimiters(recipe.thoughts)
            if delims is None:
                raise UserError(f"{place}: the format reward needs a thoughts preset with tags; key 'thoughts' is "
                                "'none': set it to bolt, think or sky-t1")
            rules = comp.rules or (recipe.bootstrap.format if recipe.bootstrap else FormatRules())
            components.append(FormatReward(name, comp.weight, delims, rules))
    return RewardModel(components, recipe.thoughts)
