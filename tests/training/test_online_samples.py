"""Stage 3's scoring journal across runs: a reward the reward model failed to give (a judge
API down) is asked for again on resume, alone; a sample that failed to generate is not."""

from __future__ import annotations

from types import SimpleNamespace

from bolt_eval.training.online_samples import reward_stats, score
from bolt_eval.training.rewards.base import Reward
from bolt_eval.training.workdir import Journal


class FlakyReward:
    """The length of the response as its reward; the keys in `down` fail (an injected fault)."""

    def __init__(self, down: set[str]) -> None:
        self.down, self.asked = down, []

    def score(self, items):
        self.asked.append([it.key for it in items])
        return [Reward(None, {"judge": None}, "judge: api_error after 3 call(s) (APIConnectionError: refused)")
                if it.key in self.down else Reward(float(len(it.response)), {"judge": float(len(it.response))})
                for it in items]


def journals(tmp_path):
    samples = Journal(tmp_path / "samples.jsonl")
    for qid, texts in (("a", ["x", "yy", None]), ("b", ["zzz", "w"])):
        samples.append({"key": qid, "seed": 1, "samples": [
            {"text": t or "", "finish_reason": "error" if t is None else "stop", "completion_tokens": 1,
             "error": "out of memory" if t is None else None} for t in texts]})
    return samples, Journal(tmp_path / "rewards.jsonl", replace=True)


def test_failed_rewards_are_asked_again_on_resume_and_nothing_else(tmp_path):
    queries = [SimpleNamespace(id=q, prompt=f"prompt {q}", reference=None) for q in ("a", "b")]
    samples, rewards = journals(tmp_path)
    flaky = FlakyReward({"a#1", "b#0"})
    assert score(samples, rewards, queries, flaky, "t", False) == {"scored": 2, "rescored": 0, "resumed": 0}
    assert rewards.records["a"]["rewards"] == [1.0, None, None] and rewards.records["b"]["rewards"] == [None, 1.0]
    assert reward_stats(rewards, queries)["failed"] == 3
    rewards.close()

    kept = Journal(tmp_path / "rewards.jsonl", replace=True)  # training began: the rewards stay as trained on
    assert score(samples, kept, queries, FlakyReward(set()), "t", False, retry_failed=False)["rescored"] == 0
    kept.close()

    again, back_up = Journal(tmp_path / "rewards.jsonl", replace=True), FlakyReward(set())
    assert score(samples, again, queries, back_up, "t", False) == {"scored": 0, "rescored": 2, "resumed": 0}
    assert back_up.asked == [["a#1", "b#0"]]  # the failed ones only; "a#2" failed to generate
    again.close()
    final = Journal(tmp_path / "rewards.jsonl", replace=True).records
    assert final["a"]["rewards"] == [1.0, 2.0, None] and final["b"]["rewards"] == [3.0, 1.0]
    assert final["a"]["errors"] == [None, None, "generation failed: out of memory"]
    third = FlakyReward(set())
    assert score(samples, Journal(tmp_path / "rewards.jsonl", replace=True), queries, third, "t", False) == {
        "scored": 0, "rescored": 0, "resumed": 2} and third.asked == []
