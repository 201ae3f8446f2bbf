"""Preference pairs from scored samples: best against worst of `n` (BOLT stage 3).

BOLT (Pang et al., arXiv 2502.03860, Section 3.3) samples 8 responses per prompt from the
current policy, scores each external solution with the outcome reward model (plus the
rule-based format reward) and pairs the highest-scored response (chosen) with the
lowest-scored one (rejected) for DPO, as RLHFlow/Online-RLHF does. Here:

- a failed reward (None) leaves its sample out of the group, and is counted (`failed_rewards`);
- a group with fewer than 2 scored samples gives no pair (`too_few_valid`);
- a group whose highest and lowest reward are equal gives no pair (`all_equal`): DPO on
  two equally good responses teaches nothing;
- ties among the maxima (minima) go to the lowest sample index, so the same rewards
  always give the same pairs.

Pure functions on plain data: nothing here loads a model or touches a file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

DROP_REASONS = ("all_equal", "too_few_valid")


@dataclass(frozen=True)
class Pair:
    """One DPO row: the indices of the chosen and rejected samples and their rewards."""

    prompt_id: str
    chosen: int
    rejected: int
    chosen_reward: float
    rejected_reward: float


@dataclass
class PairCounts:
    """What pair selection kept and dropped, for the manifest."""

    groups: int = 0
    samples: int = 0
    failed_rewards: int = 0
    pairs: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"groups": self.groups, "samples": self.samples, "failed_rewards": self.failed_rewards,
                "pairs": self.pairs, "dropped": {r: self.dropped.get(r, 0) for r in DROP_REASONS}}


def select_pair(prompt_id: str, rewards: Sequence[float | None]) -> tuple[Pair | None, str | None]:
    """The (chosen, rejected) pair of one prompt's samples, or None and the reason it was dropped."""
    valid = [(i, r) for i, r in enumerate(rewards) if r is not None]
    if len(valid) < 2:
        return None, "too_few_valid"
    # max/min return the first of equal keys, and `valid` is in index order: the lowest index wins a tie
    best = max(valid, key=lambda x: x[1])
    worst = min(valid, key=lambda x: x[1])
    if best[1] == worst[1]:
        return None, "all_equal"
    return Pair(prompt_id, best[0], worst[0], float(best[1]), float(worst[1])), None


def select_pairs(groups: dict[str, Sequence[float | None]]) -> tuple[list[Pair], PairCounts]:
    """Pairs for every prompt (in the order given) and the counts of what was dropped and why."""
    counts = PairCounts()
    pairs: list[Pair] = []
    for prompt_id, rewards in groups.items():
        counts.groups += 1
        counts.samples += len(rewards)
        counts.failed_rewards += sum(r is None for r in rewards)
        pair, reason = select_pair(prompt_id, rewards)
        if pair is None:
            counts.dropped[reason] += 1
        else:
            pairs.append(pair)
    counts.pairs = len(pairs)
    return pairs, counts
