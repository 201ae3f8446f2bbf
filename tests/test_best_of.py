"""Best-of-N (bolt_eval/best_of.py): the pick, re-use across N, oracle pass@k, compare's refusal.

The candidate is a real OpenAI-compatible server on loopback whose k-th sample of a problem
(the request's seed) is a scripted answer; only the reward values are scripted (a reward
component that reads them from a table), so selection, caching and storage are the real ones.
One test runs the tiny Llama through the CLI with a real classifier reward model.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import MATH_FIXTURE, bolt
from openai_server import LoopbackServer

from bolt_eval.backends.base import BackendSpec
from bolt_eval.best_of import BestOf
from bolt_eval.comparing import load_run
from bolt_eval.comparing.table import compare
from bolt_eval.passk import ks, oracle_pass_at_k, pass_at_k
from bolt_eval.runner import EvalConfig, RunResult, TaskSpec, evaluate
from bolt_eval.training.rewards import RewardModel
from bolt_eval.training.rewards.base import Component, Part, RewardItem
from bolt_eval.types import SamplingParams, UserError

ROWS = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()][:3]
# answers[problem][k % 8]: the k-th sample; "R" stands for the right answer
ANSWERS = [["1", "R", "R", "9", "R", "2", "3", "4"],
           ["7", "7", "7", "7", "R", "7", "7", "7"],
           ["R", "0", "0", "R", "0", "0", "0", "0"]]
# rewards[problem][k % 8]: None is a reward that fails for that answer
REWARDS = [[0.1, 0.9, 0.9, 0.2, 0.5, 0.0, 0.0, 0.0],  # tie 1 and 2: the first (1) is kept
           [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],  # all equal: 0
           [None, 0.2, 0.1, 0.8, 0.0, 0.0, 0.0, 0.0]]  # 0 failed: 3 is kept


def answer(i: int, k: int) -> str:
    a = ANSWERS[i][k % 8]
    return f"Attempt {k}: so the answer is \\boxed{{{ROWS[i]['answer'] if a == 'R' else a}}}."


def reply(body: dict[str, Any]) -> str:
    i = next(j for j, r in enumerate(ROWS) if r["problem"] in body["messages"][-1]["content"])
    return answer(i, body["seed"])


class ScriptedReward(Component):
    """REWARDS by item (sample id, answer index); counts the answers it scores."""

    kind = "scripted"

    def __init__(self) -> None:
        super().__init__("scripted", 1.0)
        self.scored = 0

    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        self.scored += len(items)
        out = []
        for item in items:
            sid, k = item.key.rsplit("#", 1)
            v = REWARDS[[r["unique_id"] for r in ROWS].index(sid)][int(k) % 8]
            out.append(Part(v) if v is not None else Part(None, "scripted failure"))
        return out

    def settings(self) -> dict[str, Any]:
        return {"table": "REWARDS"}


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with LoopbackServer(reply) as s:
        yield s


def run(root: Path, url: str, n: int | None, reward: ScriptedReward | None = None, temperature: float = 1.0,
        label: str | None = None) -> RunResult:
    best_of = BestOf(n, RewardModel([reward or ScriptedReward()], "none")) if n else None
    cfg = EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 3)],
                     backend=BackendSpec("openai", "cand", base_url=url, max_retries=0),
                     sampling=SamplingParams(temperature=temperature), out=str(root), label=label,
                     progress=False, best_of=best_of)
    [result] = evaluate(cfg)
    return result


def picks(result: RunResult) -> list[int]:
    return [json.loads(line)["pick"] for line in (result.dir / "best_of.jsonl").read_text().splitlines()]


def test_the_highest_reward_is_kept_ties_to_the_first_and_every_answer_is_stored(server: Any, tmp_path: Path) -> None:
    reward = ScriptedReward()
    result = run(tmp_path / "r", server.base_url, 8, reward)
    assert picks(result) == [1, 0, 3]
    assert len(server.requests) == 3 * 8 and reward.scored == 3 * 8
    records = [json.loads(line) for line in (result.dir / "samples.jsonl").read_text().splitlines()]
    assert [[o["turns"][0]["response"] for o in r["outputs"]] for r in records] == \
        [[answer(i, k) for k in range(8)] for i in range(3)]
    rows = [json.loads(line) for line in (result.dir / "best_of.jsonl").read_text().splitlines()]
    assert rows[2]["rewards"][0] is None and rows[2]["errors"] == {"0": "scripted: scripted failure"}
    # kept: R, 7, R -> 2 of 3 right
    assert result.summary["headline"]["mean"] == pytest.approx(2 / 3)
    assert result.manifest["label"] == "cand-bo8" and result.run_id.startswith("cand-bo8--math500--")
    bo = result.manifest["config"]["best_of"]
    assert bo["n"] == 8 and bo["reward_sha256"] == result.summary["best_of"]["reward_sha256"]
    assert result.manifest["config"]["sampling"]["n"] == 8
    assert result.summary["best_of"]["reward_failures"] == 1
    # oracle pass@k from the stored answers: c = 3, 1, 2 right of 8
    pk = result.summary["best_of"]["oracle_pass_at_k"]
    assert list(pk["k"]) == ["1", "2", "4", "8"]
    for k in (1, 2, 4, 8):
        want = sum(1 - math.comb(8 - c, k) / math.comb(8, k) for c in (3, 1, 2)) / 3
        assert pk["k"][str(k)]["mean"] == pytest.approx(want, abs=1e-6)
    assert pk["k"]["8"]["mean"] == 1.0


def test_best_of_4_after_16_generates_nothing_and_rescores_only_failed_rewards(server: Any, tmp_path: Path) -> None:
    r16 = run(tmp_path / "r", server.base_url, 16)
    sent = len(server.requests)
    assert sent == 3 * 16
    reward = ScriptedReward()
    r4 = run(tmp_path / "r", server.base_url, 4, reward)
    assert len(server.requests) == sent  # nothing generated
    assert reward.scored == 1  # only the answer whose reward failed (problem 3, answer 0) is scored again
    assert r4.run_id != r16.run_id and r4.manifest["label"] == "cand-bo4"
    load = lambda r: [json.loads(x) for x in (r.dir / "samples.jsonl").read_text().splitlines()]  # noqa: E731
    assert [rec["outputs"] for rec in load(r4)] == [rec["outputs"][:4] for rec in load(r16)]
    assert picks(r4) == [1, 0, 3] and picks(r16) == [1, 0, 3]
    assert list(r4.summary["best_of"]["oracle_pass_at_k"]["k"]) == ["1", "2", "4"]
    # a run needing more answers than any stored cannot reuse them: 32 generates afresh
    r32 = run(tmp_path / "r", server.base_url, 32)
    assert len(server.requests) == sent + 3 * 32 and len(load(r32)[0]["outputs"]) == 32


def test_pass_at_k_on_hand_computed_correctness_lists() -> None:
    assert ks(16) == [1, 2, 4, 8, 16] and ks(6) == [1, 2, 4, 6] and ks(1) == [1]
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 3, 2) == 1.0
    lists = [[True, False, False, False], [False] * 4, [True, True, False, False]]
    records = [{"outputs": [{"score": {"correct": c}} for c in cs]} for cs in lists]
    got = oracle_pass_at_k("math500", records)
    assert got is not None and got["n"] == 4
    for k in (1, 2, 4):  # the share of k-subsets holding a right answer, counted
        brute = [sum(any(s) for s in itertools.combinations(cs, k)) / math.comb(4, k) for cs in lists]
        assert got["k"][str(k)]["mean"] == pytest.approx(sum(brute) / 3, abs=1e-6)
    assert [round(got["k"][k]["mean"], 4) for k in ("1", "2", "4")] == [0.25, 0.4444, 0.6667]
    zebra = [{"outputs": [{"score": {"solved": s}} for s in (0.0, 1.0)]}]
    assert oracle_pass_at_k("zebralogic", zebra)["k"]["1"]["mean"] == 0.5  # type: ignore[index]
    assert oracle_pass_at_k("mt_bench", records) is None


def test_compare_refuses_a_best_of_run_beside_a_plain_run_of_the_same_model(server: Any, tmp_path: Path) -> None:
    root = tmp_path / "r"
    plain = run(root, server.base_url, None, temperature=0.0)  # seed 0: every problem's first answer
    best = run(root, server.base_url, 8)
    runs = [load_run(plain.dir), load_run(best.dir)]
    with pytest.raises(UserError, match="refusing to put Best-of-N run cand-bo8") as err:
        compare(runs)
    assert str(plain.dir) in str(err.value) and str(best.dir) in str(err.value)
    out = bolt("compare", str(plain.dir), str(best.dir))
    assert out.returncode == 2 and "--allow-best-of-mix" in out.stderr
    cmp = compare(runs, allow_best_of_mix=True)
    # plain: answers 1, 7, R -> 1/3; Best-of-8 keeps R, 7, R -> 2/3; paired over the 3 problems
    assert cmp.cells[("cand", "math500")].mean == pytest.approx(100 / 3, abs=1e-3)
    assert cmp.cells[("cand-bo8", "math500")].mean == pytest.approx(200 / 3, abs=1e-3)
    assert cmp.cells[("cand-bo8", "math500")].delta.mean == pytest.approx(100 / 3, abs=1e-3)
    assert any("cand-bo8 is Best-of-8" in n for n in cmp.notes)
    out = bolt("compare", str(plain.dir), str(best.dir), "--allow-best-of-mix", "--format", "csv")
    assert out.returncode == 0, out.stderr


def test_bad_best_of_settings_fail_with_the_fix(tmp_path: Path) -> None:
    base = ["run", "--model", "x", "--backend", "replay", "--tasks", "math500", "--data", str(MATH_FIXTURE),
            "--out", str(tmp_path / "r")]
    spec = tmp_path / "bad.yaml"
    spec.write_text("- kind: verifier\n- kind: classifer\n")
    cases = [
        (["--best-of", "4", "--reward", "training/rewards/verifier.yaml", "--temperature", "0"],
         "greedy decoding gives the same answer 4 times; sample with --temperature > 0"),
        (["--best-of", "4"], "--best-of N needs --reward SPEC"),
        (["--reward", "training/rewards/verifier.yaml"], "add --best-of N"),
        (["--best-of", "4", "--reward", str(spec)], f"{spec}: invalid reward spec:\n  line 2, component 1, key 'kind'"),
        (["--best-of", "4", "--reward", "nope.yaml"], "--reward nope.yaml: no such file"),
    ]
    from bolt_eval.cli import build_parser
    from bolt_eval.run_config import eval_config
    from bolt_eval.runner import evaluate as run_eval

    for extra, message in cases:
        with pytest.raises(UserError) as err:
            run_eval(eval_config(build_parser().parse_args(base + extra)))
        assert message in str(err.value)
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_tiny_llama_best_of_4_with_a_classifier_reward_through_the_cli(tiny_llama: Path, tiny_reward_model: Path,
                                                                      tmp_path: Path) -> None:
    spec = tmp_path / "rm.yaml"
    spec.write_text(f"- kind: classifier\n  model: {{model: {tiny_reward_model}}}\n  max_length: 512\n")
    args = ["run", "--model", str(tiny_llama), "--tasks", "math500", "--data", str(MATH_FIXTURE), "--limit", "2",
            "--max-new-tokens", "8", "--reward", str(spec), "--out", str(tmp_path / "r"), "--no-progress"]
    out = bolt(*args, "--best-of", "4")
    assert out.returncode == 0, out.stderr
    [folder] = (tmp_path / "r").glob("*-bo4--math500--*")
    assert "Best-of-4 by reward" in out.stdout and "oracle pass@1" in out.stdout and "pass@4" in out.stdout
    rows = [json.loads(x) for x in (folder / "best_of.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["rewards"]) == 4 and r["pick"] == r["rewards"].index(max(r["rewards"]))
                                  for r in rows)
    records = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    assert all(len(r["outputs"]) == 4 for r in records)
    assert len({o["turns"][0]["response"] for o in records[0]["outputs"]}) > 1  # sampled, not one answer 4 times
    again = bolt(*args, "--best-of", "2")  # the first 2 of the 4: no model loaded, no reward model either
    assert again.returncode == 0, again.stderr
    assert "reusing the first 2 answers of 2 samples" in again.stderr
    [folder2] = (tmp_path / "r").glob("*-bo2--math500--*")
    rows2 = [json.loads(x) for x in (folder2 / "best_of.jsonl").read_text().splitlines()]
    assert [r["rewards"] for r in rows2] == [r["rewards"][:2] for r in rows]
